/**
 * Graph algorithms over steps and their `needs`, all deterministic: ties are broken by declaration
 * order, so the same definition always gives the same order, cycles and chains.
 */
export interface GraphNode {
  readonly id: string
  readonly needs: readonly string[]
}

interface Indexed {
  readonly ids: readonly string[]
  /** For each node, the indexes of the nodes it needs (unknown ids and self-loops dropped, no repeats). */
  readonly needs: readonly (readonly number[])[]
}

/** Nodes by index, edges to known ids only; a repeated id keeps its first declaration. */
function index(nodes: readonly GraphNode[]): Indexed {
  const position = new Map<string, number>()
  nodes.forEach((n, i) => {
    if (!position.has(n.id)) position.set(n.id, i)
  })
  const needs = nodes.map((n, i) => {
    const out: number[] = []
    for (const id of n.needs) {
      const j = position.get(id)
      if (j !== undefined && j !== i && !out.includes(j)) out.push(j)
    }
    return out
  })
  return { ids: nodes.map((n) => n.id), needs }
}

/**
 * One concrete cycle per strongly connected component, each as the ids along it: `[a, b, c]` means
 * a needs b, b needs c and c needs a. Each cycle starts at its earliest-declared step and is a
 * shortest cycle through it. Self-dependencies are not cycles here (they are reported on their own).
 */
export function findCycles(nodes: readonly GraphNode[]): string[][] {
  const graph = index(nodes)
  return stronglyConnected(graph.needs)
    .filter((component) => component.length > 1)
    .map((component) => shortestCycle(graph.needs, new Set(component), Math.min(...component)))
    .sort((a, b) => a[0]! - b[0]!)
    .map((cycle) => cycle.map((i) => graph.ids[i]!))
}

/** Tarjan's algorithm without recursion (a long chain must not overflow the stack). */
function stronglyConnected(edges: readonly (readonly number[])[]): number[][] {
  const n = edges.length
  const order = new Array<number>(n).fill(-1)
  const low = new Array<number>(n).fill(0)
  const onStack = new Array<boolean>(n).fill(false)
  const stack: number[] = []
  const components: number[][] = []
  let counter = 0
  for (let root = 0; root < n; root++) {
    if (order[root] !== -1) continue
    const work: [node: number, edge: number][] = [[root, 0]]
    order[root] = low[root] = counter++
    stack.push(root)
    onStack[root] = true
    while (work.length > 0) {
      const frame = work[work.length - 1]!
      const [v, e] = frame
      const targets = edges[v]!
      if (e < targets.length) {
        frame[1] = e + 1
        const w = targets[e]!
        if (order[w] === -1) {
          order[w] = low[w] = counter++
          stack.push(w)
          onStack[w] = true
          work.push([w, 0])
        } else if (onStack[w]) {
          low[v] = Math.min(low[v]!, order[w]!)
        }
        continue
      }
      work.pop()
      const parent = work[work.length - 1]
      if (parent) low[parent[0]] = Math.min(low[parent[0]]!, low[v]!)
      if (low[v] === order[v]) {
        const component: number[] = []
        let w: number
        do {
          w = stack.pop()!
          onStack[w] = false
          component.push(w)
        } while (w !== v)
        components.push(component)
      }
    }
  }
  return components
}

/** Breadth-first from `start` along needs inside the component, back to `start`. */
function shortestCycle(edges: readonly (readonly number[])[], component: ReadonlySet<number>, start: number): number[] {
  const previous = new Map<number, number>()
  const queue = [start]
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head]!
    for (const w of edges[v]!) {
      if (!component.has(w)) continue
      if (w === start) {
        const path = [v]
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!)
        return path
      }
      if (!previous.has(w)) {
        previous.set(w, v)
        queue.push(w)
      }
    }
  }
  return [start] // unreachable for a component of two or more
}

/**
 * Kahn's algorithm, always taking the earliest-declared ready step: every step comes after all the
 * steps it needs. Returns undefined when the steps need each other in a cycle.
 */
export function topologicalOrder(nodes: readonly GraphNode[]): string[] | undefined {
  const graph = index(nodes)
  const n = graph.ids.length
  const waiting = graph.needs.map((needs) => needs.length)
  const dependents: number[][] = Array.from({ length: n }, () => [])
  graph.needs.forEach((needs, i) => needs.forEach((j) => dependents[j]!.push(i)))
  const ready = new MinHeap()
  waiting.forEach((count, i) => {
    if (count === 0) ready.push(i)
  })
  const order: string[] = []
  while (ready.size > 0) {
    const i = ready.pop()
    order.push(graph.ids[i]!)
    for (const d of dependents[i]!) {
      waiting[d] = waiting[d]! - 1
      if (waiting[d] === 0) ready.push(d)
    }
  }
  return order.length === n ? order : undefined
}

/** The longest chain of steps each needing the previous one, first step first (graph must be acyclic). */
export function longestChain(nodes: readonly GraphNode[], order: readonly string[]): string[] {
  const graph = index(nodes)
  const position = new Map(graph.ids.map((id, i) => [id, i] as const))
  const length = new Array<number>(graph.ids.length).fill(1)
  const via = new Array<number>(graph.ids.length).fill(-1)
  let best = -1
  for (const id of order) {
    const i = position.get(id)!
    for (const j of graph.needs[i]!) {
      if (length[j]! + 1 > length[i]!) {
        length[i] = length[j]! + 1
        via[i] = j
      }
    }
    if (best === -1 || length[i]! > length[best]!) best = i
  }
  const chain: string[] = []
  for (let i = best; i !== -1; i = via[i]!) chain.unshift(graph.ids[i]!)
  return chain
}

/** For each step, every step it depends on directly or transitively (graph must be acyclic). */
export function ancestorSets(nodes: readonly GraphNode[], order: readonly string[]): Map<string, Set<string>> {
  const byId = new Map(nodes.map((n) => [n.id, n] as const))
  const ancestors = new Map<string, Set<string>>()
  for (const id of order) {
    const set = new Set<string>()
    for (const need of byId.get(id)?.needs ?? []) {
      const inherited = ancestors.get(need)
      if (!inherited) continue
      set.add(need)
      for (const a of inherited) set.add(a)
    }
    ancestors.set(id, set)
  }
  return ancestors
}

/** A binary min-heap of numbers (declaration indexes). */
class MinHeap {
  private readonly items: number[] = []

  get size(): number {
    return this.items.length
  }

  push(value: number): void {
    const a = this.items
    a.push(value)
    let i = a.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (a[parent]! <= a[i]!) break
      ;[a[parent], a[i]] = [a[i]!, a[parent]!]
      i = parent
    }
  }

  pop(): number {
    const a = this.items
    const top = a[0]!
    const last = a.pop()!
    if (a.length > 0) {
      a[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < a.length && a[l]! < a[m]!) m = l
        if (r < a.length && a[r]! < a[m]!) m = r
        if (m === i) break
        ;[a[m], a[i]] = [a[i]!, a[m]!]
        i = m
      }
    }
    return top
  }
}
