import type { CallRecord, CapacitySource, ChatRequest, ChatResponse, Provider } from '@shiioo/capacity'
import { CapacityPool } from '@shiioo/capacity'
import type { CapacityLedger, Clock, Logger } from '@shiioo/core'
import { ShiiooError } from '@shiioo/core'
import type { AgentLoopOptions, AgentRunner, RoleSpec, ToolInvoker } from '@shiioo/engine'
import { agentLoop, poolModel } from '@shiioo/engine'

export const PROVIDER_KINDS = ['openai', 'anthropic', 'simulated'] as const
export type ProviderKind = (typeof PROVIDER_KINDS)[number]

/** A capacity source as configured: the vendor, where, with which key, for what, within which limits. */
export interface SourceConfig {
  id: string
  provider: ProviderKind
  baseUrl?: string
  /** The resolved key (the app resolves its reference); never logged, never in events. */
  apiKey?: string
  /** Azure OpenAI: the api-version of the deployment. */
  azureApiVersion?: string
  /** The simulated provider's script file (JSON or YAML). */
  script?: string
  models: string[]
  limits?: CapacitySource['limits']
  prices?: CapacitySource['prices']
  priority?: number
  tenants?: string[]
  roles?: string[]
  enabled?: boolean
}

export interface CapacityConfig {
  sources: SourceConfig[]
  roles: Record<string, RoleSpec>
  /** The model of a role that is not configured (default: the first model of the first source). */
  defaultModel?: string
  /**
   * Where the sources' rate windows are kept: the app passes the data dir's, so every process on
   * it stays within the vendors' limits together (default: this process's own).
   */
  ledger?: CapacityLedger
  /** How long a model call may wait for capacity before its attempt fails with UNAVAILABLE (default 10 minutes). */
  maxWaitMs?: number
}

/**
 * A provider that loads its vendor module on first use, so a process that never calls Anthropic
 * never loads the Anthropic code (each vendor is a subpath export of @shiioo/capacity).
 */
function lazyProvider(config: SourceConfig): Provider {
  let loading: Promise<Provider> | null = null
  const load = async (): Promise<Provider> => {
    switch (config.provider) {
      case 'openai': {
        const { openAiProvider } = await import('@shiioo/capacity/openai')
        return openAiProvider({
          ...(config.baseUrl ? { baseUrl: config.baseUrl } : {}),
          ...(config.apiKey ? { apiKey: config.apiKey } : {}),
          ...(config.azureApiVersion ? { azureApiVersion: config.azureApiVersion } : {}),
        })
      }
      case 'anthropic': {
        const { anthropicProvider } = await import('@shiioo/capacity/anthropic')
        if (!config.apiKey) throw new ShiiooError('UNAUTHENTICATED', `capacity source ${config.id} has no API key`)
        return anthropicProvider({ apiKey: config.apiKey, ...(config.baseUrl ? { baseUrl: config.baseUrl } : {}) })
      }
      case 'simulated': {
        const { simulatedProvider, loadSimulatedScript } = await import('@shiioo/capacity/simulated')
        return simulatedProvider(config.script ? { script: await loadSimulatedScript({ file: config.script }) } : {})
      }
    }
  }
  return {
    kind: config.provider,
    // as the vendor counts output against tokens per minute (OpenAI-compatible servers as OpenAI)
    tokenAccounting: config.provider === 'openai' ? 'max_tokens' : 'actual',
    async chat(request: ChatRequest): Promise<ChatResponse> {
      loading ??= load()
      return (await loading).chat(request)
    },
  }
}

/**
 * The agent step runner over the capacity pool: configured roles, and for any other role a
 * plain system prompt on the default model, so a workflow's roles need no configuration to run.
 */
export function capacityAgents(
  config: CapacityConfig,
  tools: ToolInvoker,
  options: {
    clock?: Clock
    logger?: Logger
    onCall?: (r: CallRecord) => void
    /** What agents are told about the tools (default: the engine's built-in ones). */
    toolSpecs?: AgentLoopOptions['toolSpecs']
  } = {},
): { agents: AgentRunner; pool: CapacityPool } {
  const pool = new CapacityPool({
    sources: config.sources.map((s): CapacitySource => ({
      id: s.id,
      provider: lazyProvider(s),
      models: s.models,
      ...(s.limits ? { limits: s.limits } : {}),
      ...(s.prices ? { prices: s.prices } : {}),
      ...(s.priority === undefined ? {} : { priority: s.priority }),
      ...(s.tenants ? { tenants: s.tenants } : {}),
      ...(s.roles ? { roles: s.roles } : {}),
      ...(s.enabled === undefined ? {} : { enabled: s.enabled }),
    })),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.onCall ? { onCall: options.onCall } : {}),
    // a shared ledger is also written by other processes: look again each second while waiting
    ...(config.ledger ? { ledger: config.ledger, ledgerPollMs: 1000 } : {}),
    ...(config.maxWaitMs === undefined ? {} : { maxWaitMs: config.maxWaitMs }),
  })
  const defaultModel = config.defaultModel ?? config.sources[0]?.models[0] ?? 'simulated'
  const agents = agentLoop({
    model: poolModel(pool),
    roles: config.roles,
    tools,
    toolSpecs: options.toolSpecs ?? BUILTIN_TOOL_SPECS,
    fallbackRole: (role) => ({
      systemPrompt: `You are the ${role} of a team of agents. Do the task you are given, briefly.`,
      model: defaultModel,
    }),
  })
  return { agents, pool }
}

/** What agents are told about the engine's built-in tools. */
export const BUILTIN_TOOL_SPECS = {
  'core.echo': { description: 'Returns its input unchanged.', inputSchema: { type: 'object' } },
  'core.noop': { description: 'Does nothing and returns an empty object.', inputSchema: { type: 'object' } },
}
