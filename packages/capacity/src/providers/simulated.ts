import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { ShiiooError, jsonSchema } from '@shiioo/core'
import type { Json } from '@shiioo/core'
import type { ChatRequest, ChatResponse, Provider, ToolCall } from '../provider.js'
import { abortError, estimateTokens } from './http.js'

/**
 * The deterministic provider for demos and tests with no API key: replies come from a script of
 * rules, matched in order against the request; the same request always gets the same reply.
 *
 * ```yaml
 * rules:
 *   - when: { lastUser: '/weather in (\w+)/i', hasToolResults: false }
 *     reply:
 *       toolCalls: [{ name: get_weather, input: { city: '{{match.1}}' } }]
 *   - when: { hasToolResults: true }
 *     reply: { text: 'Here is the forecast: {{toolResult}}' }
 * default: { text: 'I can only talk about the weather.' }
 * ```
 *
 * Placeholders in reply text and tool-call input strings: {{lastUser}}, {{system}}, {{model}},
 * {{toolResult}} (the latest tool results, joined by newlines), {{match.N}} (group N of the
 * lastUser pattern).
 */

const replySchema = z
  .object({
    text: z.string().optional(),
    toolCalls: z
      .array(
        z.object({ id: z.string().min(1).optional(), name: z.string().min(1), input: jsonSchema.optional() }).strict(),
      )
      .optional(),
    stopReason: z.enum(['end', 'tool_use', 'max_tokens', 'other']).optional(),
    usage: z
      .object({
        inputTokens: z.number().int().nonnegative().optional(),
        outputTokens: z.number().int().nonnegative().optional(),
      })
      .strict()
      .optional(),
  })
  .strict()

/** A pattern: a regular expression source, or `/source/flags`. */
const patternSchema = z.string().refine((p) => compile(p) !== undefined, 'must be a valid regular expression')

const whenSchema = z
  .object({
    /** Matches the last user message. */
    lastUser: patternSchema.optional(),
    /** Matches the system prompt (all system messages, joined by blank lines). */
    system: patternSchema.optional(),
    model: patternSchema.optional(),
    /** Whether tool results follow the last assistant message. */
    hasToolResults: z.boolean().optional(),
    /** Matches the latest tool results. */
    toolResult: patternSchema.optional(),
    /** A tool of this name is offered. */
    tool: z.string().optional(),
  })
  .strict()

const ruleSchema = z.object({ name: z.string().optional(), when: whenSchema.optional(), reply: replySchema }).strict()

export const simulatedScriptSchema = z
  .object({ rules: z.array(ruleSchema).default([]), default: replySchema.optional() })
  .strict()

export type SimulatedScript = z.input<typeof simulatedScriptSchema>
export type SimulatedReply = z.infer<typeof replySchema>
type Script = z.infer<typeof simulatedScriptSchema>

function compile(pattern: string): RegExp | undefined {
  const slashed = /^\/(.*)\/([dgimsuvy]*)$/s.exec(pattern)
  try {
    return slashed ? new RegExp(slashed[1] ?? '', (slashed[2] ?? '').replace('g', '')) : new RegExp(pattern)
  } catch {
    return undefined
  }
}

function invalid(error: z.ZodError, source: string): ShiiooError {
  const issue = error.issues[0]
  const path = issue?.path.join('.') || '(root)'
  return new ShiiooError('INVALID_INPUT', `${source}: ${path}: ${issue?.message ?? 'invalid'}`, {
    details: { field: path, issues: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) },
  })
}

function validate(script: unknown, source: string): Script {
  const parsed = simulatedScriptSchema.safeParse(script)
  if (!parsed.success) throw invalid(parsed.error, source)
  return parsed.data
}

/** Parses a script from JSON or YAML text (YAML is a superset of JSON). */
export function parseSimulatedScript(text: string, source = 'simulated script'): SimulatedScript {
  let raw: unknown
  try {
    raw = parseYaml(text) as unknown
  } catch (err) {
    throw new ShiiooError('INVALID_INPUT', `${source}: ${(err as Error).message}`, { details: { field: '(root)' } })
  }
  return validate(raw ?? {}, source)
}

/** Loads a script from text or from a JSON or YAML file. */
export async function loadSimulatedScript(source: { text: string } | { file: string }): Promise<SimulatedScript> {
  if ('text' in source) return parseSimulatedScript(source.text)
  let text: string
  try {
    text = await readFile(source.file, 'utf8')
  } catch (err) {
    const code = (err as { code?: unknown }).code
    throw new ShiiooError(
      code === 'ENOENT' ? 'NOT_FOUND' : 'INVALID_INPUT',
      `cannot read ${source.file}: ${String(code ?? err)}`,
      {
        details: { file: source.file },
      },
    )
  }
  return parseSimulatedScript(text, source.file)
}

interface Facts {
  model: string
  system: string
  lastUser: string
  /** Tool results after the last assistant message. */
  toolResults: string[]
  tools: Set<string>
}

function factsOf(request: ChatRequest): Facts {
  let lastUser = ''
  const system: string[] = []
  let toolResults: string[] = []
  for (const m of request.messages) {
    if (m.role === 'system') system.push(m.content)
    else if (m.role === 'user') lastUser = m.content
    else if (m.role === 'assistant') toolResults = []
    else toolResults.push(m.content)
  }
  return {
    model: request.model,
    system: system.join('\n\n'),
    lastUser,
    toolResults,
    tools: new Set((request.tools ?? []).map((t) => t.name)),
  }
}

type Rule = Script['rules'][number]

/** The groups of the lastUser match when the rule matches, else undefined. */
function matches(rule: Rule, facts: Facts): string[] | undefined {
  const w = rule.when ?? {}
  const test = (pattern: string | undefined, text: string): boolean =>
    pattern === undefined || compile(pattern)!.test(text)
  if (w.hasToolResults !== undefined && w.hasToolResults !== facts.toolResults.length > 0) return undefined
  if (w.tool !== undefined && !facts.tools.has(w.tool)) return undefined
  if (!test(w.system, facts.system) || !test(w.model, facts.model)) return undefined
  if (w.toolResult !== undefined && !(facts.toolResults.length > 0 && test(w.toolResult, facts.toolResults.join('\n'))))
    return undefined
  if (w.lastUser === undefined) return []
  const m = compile(w.lastUser)!.exec(facts.lastUser)
  return m ? m.map((g) => g ?? '') : undefined
}

function fill(template: string, facts: Facts, groups: string[]): string {
  return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (whole, name: string) => {
    if (name === 'lastUser') return facts.lastUser
    if (name === 'system') return facts.system
    if (name === 'model') return facts.model
    if (name === 'toolResult') return facts.toolResults.join('\n')
    const group = /^match\.(\d+)$/.exec(name)
    return group ? (groups[Number(group[1])] ?? '') : whole
  })
}

function fillJson(value: Json, facts: Facts, groups: string[]): Json {
  if (typeof value === 'string') return fill(value, facts, groups)
  if (Array.isArray(value)) return value.map((v) => fillJson(v, facts, groups))
  if (value !== null && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillJson(v, facts, groups)]))
  return value
}

function defaultReply(facts: Facts): SimulatedReply {
  if (facts.toolResults.length > 0) return { text: `Done. Tool results: ${facts.toolResults.join('; ')}` }
  return { text: `Simulated reply to: ${facts.lastUser}` }
}

function promptChars(request: ChatRequest): number {
  let chars = 0
  for (const m of request.messages) {
    chars += m.content.length
    if (m.role === 'assistant')
      for (const c of m.toolCalls ?? []) chars += c.name.length + JSON.stringify(c.input).length
  }
  for (const t of request.tools ?? []) chars += t.name.length + JSON.stringify(t.inputSchema).length
  return chars
}

export interface SimulatedProviderOptions {
  /** Without one, every request gets the default reply. */
  script?: SimulatedScript
}

export function simulatedProvider(options: SimulatedProviderOptions = {}): Provider {
  const script = validate(options.script ?? {}, 'simulated script')
  return {
    kind: 'simulated',
    async chat(request) {
      if (request.signal?.aborted) throw abortError('simulated', request.signal.reason)
      const facts = factsOf(request)
      let reply: SimulatedReply | undefined
      let groups: string[] = []
      for (const rule of script.rules) {
        const m = matches(rule, facts)
        if (m) {
          reply = rule.reply
          groups = m
          break
        }
      }
      reply ??= script.default ?? defaultReply(facts)
      const text = fill(reply.text ?? '', facts, groups)
      // Ids are unique within a conversation and the same on every replay of it.
      const turn = request.messages.filter((m) => m.role === 'assistant').length + 1
      const toolCalls: ToolCall[] = (reply.toolCalls ?? []).map((c, i) => ({
        id: c.id ?? `sim_${turn}_${i + 1}`,
        name: c.name,
        input: fillJson(c.input ?? {}, facts, groups),
      }))
      if (request.stream) for (const piece of text.match(/\S+\s*|\s+/g) ?? []) request.onText?.(piece)
      const outputChars = toolCalls.reduce((n, c) => n + c.name.length + JSON.stringify(c.input).length, text.length)
      const response: ChatResponse = {
        text,
        toolCalls,
        stopReason: reply.stopReason ?? (toolCalls.length > 0 ? 'tool_use' : 'end'),
        usage: {
          inputTokens: reply.usage?.inputTokens ?? estimateTokens(promptChars(request)),
          outputTokens: reply.usage?.outputTokens ?? estimateTokens(outputChars),
        },
        model: request.model,
      }
      return response
    },
  }
}
