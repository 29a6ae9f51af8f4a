import type { IncomingMessage } from 'node:http'
import { pipeline, type Readable } from 'node:stream'
import { TextDecoder } from 'node:util'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'

/** The body as http.fetch answers it: text, or base64 when the content is not text. */
export interface DecodedBody {
  body: string
  binary: boolean
}

/**
 * The response body with its content-encoding undone (gzip, deflate, br); an encoding it does not
 * know is passed through as it came (and will then read as binary). The limit applies to the
 * decoded bytes, so a compressed bomb costs at most maxBytes of memory.
 */
export function decodedStream(response: IncomingMessage): Readable {
  const encoding = (response.headers['content-encoding'] ?? '').trim().toLowerCase()
  const decoder =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? createGunzip()
      : encoding === 'deflate'
        ? createInflate()
        : encoding === 'br'
          ? createBrotliDecompress()
          : undefined
  if (decoder === undefined) return response
  // errors reach the reader through `decoder`; destroying it (at the limit) destroys the response
  return pipeline(response, decoder, () => undefined)
}

/** Reads at most `maxBytes`; one byte more says the body was longer, and stops the transfer. */
export async function readLimited(stream: Readable, maxBytes: number): Promise<{ data: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    size += chunk.length
    if (size > maxBytes) {
      stream.destroy()
      return { data: Buffer.concat(chunks, size).subarray(0, maxBytes), truncated: true }
    }
  }
  return { data: Buffer.concat(chunks, size), truncated: false }
}

const TEXT_MEDIA =
  /^(text\/.+|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded|graphql|x-ndjson|yaml|x-yaml|toml|sql)|[a-z]+\/[^;]+\+(json|xml)|image\/svg\+xml)$/

/** How many leading bytes are looked at for NUL bytes, which text does not hold. */
const SNIFF_BYTES = 8192

/**
 * Text for a text media type (or none) whose first bytes hold no NUL, decoded with the declared
 * charset (UTF-8 when none or unknown); base64 for anything else. A truncated body is decoded as
 * a stream that never ends, so a character cut by the limit is dropped, never half-decoded.
 */
export function decodeBody(data: Buffer, truncated: boolean, contentType: string | undefined): DecodedBody {
  const [media = '', ...parameters] = (contentType ?? '').toLowerCase().split(';')
  const mediaType = media.trim()
  const textual = mediaType === '' || TEXT_MEDIA.test(mediaType)
  if (!textual || data.subarray(0, SNIFF_BYTES).includes(0)) {
    return { body: data.toString('base64'), binary: true }
  }
  const charset = parameters.map((p) => p.trim()).find((p) => p.startsWith('charset='))
  const decoder = textDecoder(charset?.slice('charset='.length).replace(/^"|"$/g, ''))
  return { body: decoder.decode(data, { stream: truncated }), binary: false }
}

function textDecoder(label: string | undefined): TextDecoder {
  try {
    return new TextDecoder(label ?? 'utf-8')
  } catch {
    return new TextDecoder('utf-8')
  }
}
