import { createHash } from 'node:crypto'
import type { Json } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import type { AgentRunner, ToolInvoker, ToolRequest } from './ports.js'

/**
 * The deterministic stand-in for the LLM port, so workflows run with no API key: the same role
 * and prompt always give the same reply, which says plainly that no model produced it.
 */
export function standInAgent(): AgentRunner {
  return {
    run(request) {
      const digest = createHash('sha256').update(`${request.role}\n${request.prompt}`).digest('hex').slice(0, 12)
      const prompt = request.prompt.replace(/\s+/g, ' ').trim()
      const gist = prompt.length > 160 ? `${prompt.slice(0, 157)}...` : prompt
      const text = `[stand-in ${request.role}] ${gist}`
      if (request.onText) {
        // as a vendor would stream it, word by word (a listener's failure is its own)
        for (const delta of text.match(/\S+\s*|\s+/g) ?? []) {
          try {
            request.onText({ turn: 1, delta, source: 'stand-in', call: 1 })
          } catch {
            break
          }
        }
      }
      return Promise.resolve({
        output: {
          text,
          model: 'stand-in',
          digest,
        },
      })
    },
  }
}

type ToolFn = (request: ToolRequest) => Promise<Json> | Json

/** A few side-effect-free tools for examples and tests; the MCP issue brings the real catalog. */
export const BUILTIN_TOOLS: Readonly<Record<string, ToolFn>> = {
  'core.echo': (r) => r.input,
  'core.noop': () => ({}),
}

/** A ToolInvoker over named functions; an unknown tool is a NOT_FOUND that names the known ones. */
export function toolInvoker(tools: Readonly<Record<string, ToolFn>> = BUILTIN_TOOLS): ToolInvoker {
  return {
    async invoke(request) {
      const fn = Object.prototype.hasOwnProperty.call(tools, request.tool) ? tools[request.tool] : undefined
      if (!fn) {
        throw new ShiiooError(
          'NOT_FOUND',
          `no tool named "${request.tool}"; available: ${Object.keys(tools).sort().join(', ') || 'none'}`,
        )
      }
      return await fn(request)
    },
  }
}
