import type { MetricsObservationView, MetricsSnapshotView } from '@shiioo/orchestrator'
import { Counter, Gauge, Histogram, Registry } from 'prom-client'

/** What the server counts, on a registry the composition root owns (never prom-client's global one). */
export interface ServerMetrics {
  readonly registry: Registry
  /** An answered HTTP request, by route pattern (never the raw path), method and status. */
  observeRequest(request: { route: string; method: string; status: number; seconds: number }): void
  /** What the live feed showed ending (see `orchestrator.metrics.observe`). */
  observe(observation: MetricsObservationView): void
  /** The exposition text: the registry's metrics and the tenant's totals of `snapshot`. */
  render(snapshot: MetricsSnapshotView): Promise<{ contentType: string; text: string }>
}

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14_400, 86_400]

export function createServerMetrics(registry: Registry): ServerMetrics {
  const http = new Histogram({
    name: 'shiioo_http_request_duration_seconds',
    help: 'HTTP requests by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  })
  const steps = new Histogram({
    name: 'shiioo_step_duration_seconds',
    help: 'Step attempts from start to end (waits included), by how they ended; from the live feed since this process started',
    labelNames: ['status'] as const,
    buckets: STEP_BUCKETS,
    registers: [registry],
  })
  const ended = new Counter({
    name: 'shiioo_runs_ended_total',
    help: 'Runs that ended, by status; from the live feed since this process started',
    labelNames: ['status'] as const,
    registers: [registry],
  })
  return {
    registry,
    observeRequest: (r) => http.observe({ route: r.route, method: r.method, status: String(r.status) }, r.seconds),
    observe(o) {
      if (o.kind === 'step-ended') steps.observe({ status: o.status }, o.seconds)
      else ended.inc({ status: o.status })
    },
    async render(snapshot) {
      // the tenant's totals go on a registry of this scrape only: two scrapes by two tenants never mix
      const scrape = new Registry()
      const registers = [scrape]
      const tenant = snapshot.tenant
      const runs = new Gauge({
        name: 'shiioo_runs',
        help: 'Runs by status, as the index holds them',
        labelNames: ['tenant', 'status'] as const,
        registers,
      })
      for (const [status, n] of Object.entries(snapshot.runs)) runs.set({ tenant, status }, n)
      const llm = {
        calls: counter(scrape, 'shiioo_llm_calls_total', 'Model calls, from the cost ledger'),
        input: counter(scrape, 'shiioo_llm_input_tokens_total', 'Input tokens of model calls, from the cost ledger'),
        output: counter(scrape, 'shiioo_llm_output_tokens_total', 'Output tokens of model calls, from the cost ledger'),
        cost: counter(scrape, 'shiioo_llm_cost_total', 'Cost of model calls in the configured unit (USD by default)'),
      }
      for (const row of snapshot.llm) {
        const labels = { tenant, model: row.key }
        llm.calls.inc(labels, row.calls)
        llm.input.inc(labels, row.inputTokens)
        llm.output.inc(labels, row.outputTokens)
        llm.cost.inc(labels, row.cost)
      }
      const { pool } = snapshot
      new Gauge({ name: 'shiioo_pool_queue_depth', help: 'Model calls waiting for capacity', registers }).set(
        pool.queued,
      )
      new Gauge({ name: 'shiioo_pool_in_flight', help: 'Model calls at providers', registers }).set(pool.inFlight)
      const inFlight = new Gauge({
        name: 'shiioo_pool_source_in_flight',
        help: 'Model calls at a capacity source',
        labelNames: ['source'] as const,
        registers,
      })
      const saturation = new Gauge({
        name: 'shiioo_pool_source_saturation',
        help: 'Calls in flight over the source’s max_concurrent (only sources with that limit)',
        labelNames: ['source'] as const,
        registers,
      })
      const state = new Gauge({
        name: 'shiioo_pool_source_state',
        help: 'A capacity source’s state: 1 for the state it is in',
        labelNames: ['source', 'state'] as const,
        registers,
      })
      for (const s of pool.sources) {
        inFlight.set({ source: s.id }, s.inFlight)
        if (s.saturation !== null) saturation.set({ source: s.id }, s.saturation)
        state.set({ source: s.id, state: s.state }, 1)
      }
      const merged = Registry.merge([registry, scrape])
      return { contentType: merged.contentType, text: await merged.metrics() }
    },
  }
}

function counter(registry: Registry, name: string, help: string) {
  return new Counter({ name, help, labelNames: ['tenant', 'model'] as const, registers: [registry] })
}
