import { TextDecoder } from 'node:util'

/**
 * Whether `head` (a file's first bytes) reads as text: no NUL byte, and valid UTF-8 (a character
 * cut at the end of `head` is fine when the file goes on).
 */
export function looksLikeUtf8Text(head: Buffer, more: boolean): boolean {
  if (head.includes(0)) return false
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: more })
    return true
  } catch {
    return false
  }
}

/** How many leading continuation bytes (10xxxxxx) `data` starts with: the rest of a character begun before it. */
export function continuationBytes(data: Buffer): number {
  let n = 0
  while (n < 3 && n < data.length && (data[n]! & 0xc0) === 0x80) n++
  return n
}

/**
 * The length of the longest prefix of `data` that does not end inside a UTF-8 character: the last
 * character is dropped when its lead byte says it needs more bytes than are there.
 */
export function utf8Boundary(data: Buffer): number {
  for (let back = 1; back <= Math.min(4, data.length); back++) {
    const byte = data[data.length - back]!
    if ((byte & 0xc0) === 0x80) continue // a continuation byte: look further back for the lead
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1
    return needed > back ? data.length - back : data.length
  }
  return data.length
}
