import { createHash } from 'node:crypto'
import type { ChatRequest } from '../provider.js'

/** What OpenAI (function names) and Anthropic (tool names) accept. */
export const VENDOR_TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/

const MAX = 64
const HASH_CHARS = 8

/** A request's tool names as a vendor may see them, and back. */
export interface ToolNameMap {
  toVendor(name: string): string
  /** The Shiioo name of a name the vendor answered with; a name the request never sent comes back as it is. */
  fromVendor(name: string): string
}

function hashed(name: string, safe: string): string {
  const suffix = createHash('sha256').update(name).digest('hex').slice(0, HASH_CHARS)
  return `${safe.slice(0, MAX - HASH_CHARS - 1)}_${suffix}`
}

/**
 * Maps Shiioo tool names (`core.echo`, an MCP server's `github.search_issues`, names longer than
 * 64 characters) to names both vendors accept, for one request. A name that is already valid is
 * sent as it is; another has each disallowed character replaced by `_`, and when that is over 64
 * characters or would be the same as another name of the request, it is cut and given the first
 * 8 hex digits of its SHA-256. The result depends only on the set of names, so every turn of a
 * conversation maps its names the same way.
 */
export function vendorToolNames(names: Iterable<string>): ToolNameMap {
  const all = [...new Set(names)].sort()
  const out = new Map<string, string>()
  const taken = new Set(all.filter((n) => VENDOR_TOOL_NAME.test(n)))
  for (const n of taken) out.set(n, n)
  const sanitized = new Map<string, string[]>()
  for (const n of all) {
    if (out.has(n)) continue
    const safe = n.replace(/[^a-zA-Z0-9_-]/g, '_') || '_'
    sanitized.set(safe, [...(sanitized.get(safe) ?? []), n])
  }
  for (const [safe, originals] of sanitized) {
    for (const n of originals) {
      const alone = originals.length === 1 && safe.length <= MAX && !taken.has(safe)
      let vendor = alone ? safe : hashed(n, safe)
      // a clash of hashes (or with a valid name ending like one) is settled by hashing again
      for (let salt = 1; taken.has(vendor); salt++) vendor = hashed(`${n}#${salt}`, safe)
      taken.add(vendor)
      out.set(n, vendor)
    }
  }
  const back = new Map([...out].map(([k, v]) => [v, k]))
  return {
    toVendor: (name) => out.get(name) ?? name,
    fromVendor: (name) => back.get(name) ?? name,
  }
}

/** The map of every tool name a request mentions: the tools offered and the calls in its history. */
export function requestToolNames(request: Pick<ChatRequest, 'tools' | 'messages'>): ToolNameMap {
  const names: string[] = (request.tools ?? []).map((t) => t.name)
  for (const m of request.messages) if (m.role === 'assistant') for (const c of m.toolCalls ?? []) names.push(c.name)
  return vendorToolNames(names)
}
