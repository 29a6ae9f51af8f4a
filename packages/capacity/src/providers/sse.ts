/** One server-sent event. */
export interface SseEvent {
  /** The `event:` field, 'message' when absent. */
  event: string
  data: string
}

/**
 * Parses a text/event-stream body (the WHATWG rules: CRLF, LF or CR line ends, `:` comments, data
 * lines joined by LF, an event dispatched at a blank line, an unfinished one dropped at the end).
 */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  let event = ''
  let data: string[] = []
  let done = false
  try {
    while (!done) {
      const chunk = await reader.read()
      done = chunk.done
      buffer += done ? decoder.decode() : decoder.decode(chunk.value, { stream: true })
      for (;;) {
        const end = buffer.search(/\r\n|\n|\r/)
        // A CR at the end of the buffer may be the first half of a CRLF still on its way.
        if (end < 0 || (end === buffer.length - 1 && buffer[end] === '\r' && !done)) break
        const line = buffer.slice(0, end)
        buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1))
        if (line === '') {
          if (data.length > 0) yield { event: event || 'message', data: data.join('\n') }
          event = ''
          data = []
          continue
        }
        if (line.startsWith(':')) continue
        const colon = line.indexOf(':')
        const field = colon < 0 ? line : line.slice(0, colon)
        let value = colon < 0 ? '' : line.slice(colon + 1)
        if (value.startsWith(' ')) value = value.slice(1)
        if (field === 'data') data.push(value)
        else if (field === 'event') event = value
      }
    }
  } finally {
    // A consumer that stops early (an error event, an abort) leaves the rest unread: drop it.
    if (!done) await reader.cancel().catch(() => {})
    reader.releaseLock()
  }
}
