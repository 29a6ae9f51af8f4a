import { readFileSync, readlinkSync } from 'node:fs'
import { hostname } from 'node:os'

/**
 * Who holds a lock file (or wrote an identity file): enough to decide later, from any process on
 * any host, whether that holder may still be running.
 */
export interface LockOwner {
  pid: number
  host: string
  /** The owner process's start time (Linux /proc), so a reused pid is not mistaken for the owner. */
  start: string | null
  /**
   * The kernel's boot id and the owner's pid namespace: only a judge that shares both can ask the
   * kernel about `pid` (another container on the same host may reuse the host name and the pid).
   */
  boot?: string | null
  pidns?: string | null
  nonce: string
  /** How long the owner's heartbeat may be silent before anyone may take what it holds. */
  ttlMs?: number
  /**
   * A lock written on its own (no identity file to link): its own mtime is its heartbeat, and no
   * identity file is needed for it to count as held.
   */
  standalone?: boolean
}

/** The default TTL of a holder's heartbeat: silent longer than this, it is taken over. */
export const DEFAULT_LEASE_TTL_MS = 15_000

/** Why a holder counts as gone; null while it may still run. */
export type GoneReason =
  'no such process' | 'zombie process' | 'pid reused by another process' | 'heartbeat expired' | 'declared gone'

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return null
  }
}

/** Linux /proc/<pid>/stat: the state letter (field 3) and start time (field 22); null when unreadable. */
function procStat(pid: number): { state: string; start: string | null } | null {
  const stat = readText(`/proc/${pid}/stat`)
  if (stat === null) return null
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return { state: fields[0] ?? '?', start: fields[19] ?? null }
}

let self: { pid: number; host: string; start: string | null; boot: string | null; pidns: string | null } | null = null

/** This process as a lock owner (without a nonce). */
export function selfIdentity(): NonNullable<typeof self> {
  if (self === null) {
    let pidns: string | null = null
    try {
      pidns = readlinkSync('/proc/self/ns/pid')
    } catch {
      // not Linux, or /proc not mounted
    }
    self = {
      pid: process.pid,
      host: hostname(),
      start: procStat(process.pid)?.start ?? null,
      boot: readText('/proc/sys/kernel/random/boot_id'),
      pidns,
    }
  }
  return self
}

/** Whether a lock or identity file names this very process. */
export function isThisProcess(o: Pick<LockOwner, 'pid' | 'host'>): boolean {
  const me = selfIdentity()
  return o.pid === me.pid && o.host === me.host
}

/**
 * Whether this process can ask the kernel about the owner's pid: the same kernel boot and pid
 * namespace when both are known (a container on the same host with its own pid namespace, or a
 * machine that rebooted, cannot be judged by pid), else the same host name (older lock files).
 */
function sharesPidSpace(o: LockOwner): boolean {
  const me = selfIdentity()
  if (o.boot && me.boot && o.pidns && me.pidns) return o.boot === me.boot && o.pidns === me.pidns
  return o.host === me.host && !(o.boot && me.boot && o.boot !== me.boot)
}

/**
 * What the kernel says of an owner it can see: gone for good (no such process, a zombie that its
 * parent has not reaped, the pid now belonging to a process that started at another time), or
 * null when the process runs (or cannot be asked).
 */
function provablyGone(o: LockOwner): GoneReason | null {
  // another kernel (a rebooted machine, or a pod rescheduled with the same host name) cannot be
  // asked: only the heartbeat tells
  if (!sharesPidSpace(o)) return null
  try {
    process.kill(o.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return 'no such process'
  }
  const stat = procStat(o.pid)
  if (stat === null) return null // no /proc: the signal's answer is all there is
  // a killed process whose parent has not waited for it still answers kill(pid, 0)
  if (stat.state === 'Z' || stat.state === 'X') return 'zombie process'
  if (o.start !== null && stat.start !== null && stat.start !== o.start) return 'pid reused by another process'
  return null
}

/**
 * Judges a holder from what its lock file says and when its heartbeat last touched the file
 * (`heartbeatMs`, the lock's mtime: a lock is a hard link to its owner's identity file, which the
 * owner touches every third of its TTL). `identityPresent` is false when the owner's identity file
 * is gone: the owner closed, or was declared gone by a process that took over from it. Returns
 * why the holder is gone, or null while it may still run.
 *
 * The rules (leases as Chubby and etcd keep them): a holder on this kernel that provably does
 * not run is gone at once; any other holder is gone once its heartbeat is older than its TTL,
 * whatever host it names.
 */
export function judgeOwner(
  o: LockOwner,
  heartbeatMs: number,
  identityPresent: boolean,
  now: number = Date.now(),
): GoneReason | null {
  if (!o.standalone && !identityPresent) return 'declared gone'
  const dead = provablyGone(o)
  if (dead !== null) return dead
  // a standalone lock of a holder without a heartbeat (no identity to renew it) never expires
  const ttl = o.ttlMs ?? (o.standalone ? Infinity : DEFAULT_LEASE_TTL_MS)
  return now - heartbeatMs > ttl ? 'heartbeat expired' : null
}

/** Reads a lock or identity file's owner; null if it vanished or is being written right now. */
export function readOwner(path: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as LockOwner
    return typeof o === 'object' && o !== null && typeof o.pid === 'number' && typeof o.nonce === 'string' ? o : null
  } catch {
    return null
  }
}
