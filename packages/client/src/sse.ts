/** One message of a `text/event-stream` body. */
export interface SseMessage {
  event: string
  data: string
  id: string | null
}

/**
 * The messages of an event stream, as the WHATWG spec parses them (fields `event`, `data`, `id`;
 * comments and unknown fields ignored; a message ends at a blank line).
 */
export async function* readSse(body: ReadableStream<Uint8Array>, signal?: AbortSignal): AsyncGenerator<SseMessage> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader()
  const onAbort = () => void reader.cancel().catch(() => {})
  signal?.addEventListener('abort', onAbort, { once: true })
  let buffer = ''
  let event = ''
  let data: string[] = []
  let id: string | null = null
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buffer += value
      let nl: number
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl)
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1))
        if (line === '') {
          if (data.length > 0 || event !== '') yield { event: event || 'message', data: data.join('\n'), id }
          event = ''
          data = []
          continue
        }
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        const raw = colon < 0 ? '' : line.slice(colon + 1)
        const v = raw.startsWith(' ') ? raw.slice(1) : raw
        if (field === 'event') event = v
        else if (field === 'data') data.push(v)
        else if (field === 'id') id = v
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort)
    reader.releaseLock()
  }
}
