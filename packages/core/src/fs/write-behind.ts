import { writevSync } from 'node:fs'
import { ShiiooError } from '../errors.js'
import type { Logger } from '../ports/logger.js'
import type { Handle } from './stream-handles.js'
import { writeFully } from './stream-file.js'

/** A stream's waiting bytes are written at once when they reach this size. */
const MAX_STREAM_BYTES = 64 * 1024
/** All waiting bytes are written at once when they reach this size. */
const MAX_TOTAL_BYTES = 8 * 1024 * 1024

/**
 * Journaled commits' bytes on their way to their stream files. Once a commit is in the write-ahead
 * journal it is durable, and its stream file is only a copy to be made before anyone needs it: a
 * read of the stream, the stream's lock passing to another process, its file being closed, or the
 * journal checkpoint that makes stream files durable on their own. Until then the commits of one
 * stream wait here, at most `delayMs`, and go to the file in one write: a short run's commits
 * mostly share one write instead of a write each (every syscall is dear on this class of machine),
 * and the file never holds bytes that are not yet durable.
 *
 * A failed write (a full disk, an I/O error) leaves the file behind the journal: that failure is
 * kept and reported to every later append, and to every read of a stream whose commits still
 * wait, as a failed journal write is, until the process restarts and recovery replays the
 * journal into the file.
 */
export class WriteBehind {
  private readonly waiting = new Set<Handle>()
  private waitingBytes = 0
  private timer: NodeJS.Timeout | null = null
  private failed: ShiiooError | null = null

  constructor(
    private readonly delayMs: number,
    private readonly logger: Logger,
  ) {}

  get failure(): ShiiooError | null {
    return this.failed
  }

  /** Queues a journaled commit's bytes for the stream file, at `offset`. */
  add(h: Handle, bytes: Buffer, offset: number): void {
    if (h.unwritten.length === 0) h.unwrittenAt = offset
    h.unwritten.push(bytes)
    h.unwrittenBytes += bytes.length
    this.waitingBytes += bytes.length
    this.waiting.add(h)
    if (this.waitingBytes >= MAX_TOTAL_BYTES) this.writeAll()
    else if (h.unwrittenBytes >= MAX_STREAM_BYTES) this.write(h)
    else this.timer ??= setTimeout(this.onTimer, this.delayMs)
  }

  /** Writes the stream's waiting bytes now; throws if they cannot be (see the class comment). */
  write(h: Handle): void {
    if (h.unwritten.length === 0) return
    if (this.failed) throw this.failed
    try {
      if (h.fd === null) throw new Error(`${h.path} is not open`)
      const size = h.unwrittenBytes
      const done = writevSync(h.fd, h.unwritten, h.unwrittenAt)
      if (done < size) writeFully(h.fd, Buffer.concat(h.unwritten).subarray(done), h.unwrittenAt + done)
    } catch (err) {
      this.failed = new ShiiooError(
        'UNAVAILABLE',
        `journaled events could not be written to ${h.path} (${(err as Error).message}); the event log stops until the process restarts and recovers them from its journal`,
        { retryable: false },
      )
      this.logger.error('stream file write failed', { path: h.path, error: (err as Error).message })
      throw this.failed
    }
    this.waitingBytes -= h.unwrittenBytes
    h.unwritten = []
    h.unwrittenBytes = 0
    this.waiting.delete(h)
  }

  /** Writes every stream's waiting bytes; throws the failure (nothing more is written after one). */
  writeAll(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    for (const h of this.waiting) this.write(h)
  }

  private readonly onTimer = (): void => {
    this.timer = null
    try {
      this.writeAll()
    } catch {
      // kept in `failure`: the log reports it to every later append and read
    }
  }
}
