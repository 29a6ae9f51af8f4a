import type { Json } from '@shiioo/core'

/** One stored version of a workflow name. */
export interface WorkflowVersionView {
  /** The sha256 of the normalized definition: runs pin it. */
  hash: string
  /** True for the version sub-workflow steps naming the workflow run now. */
  current: boolean
}

/** A registered workflow name and its versions. */
export interface WorkflowView {
  name: string
  /** The current version's hash. */
  hash: string
  /** Every version registered under the name, oldest first (each once). */
  versions: WorkflowVersionView[]
}

/** A registered name with one of its definitions (the current one unless a version was asked for). */
export interface WorkflowDetailView extends WorkflowView {
  /** The version `definition` is. */
  definitionHash: string
  /** The normalized definition, as stored and hashed. */
  definition: Json
}

export interface RegisteredWorkflowView {
  name: string
  hash: string
  /** False when this definition already was the current version of its name. */
  changed: boolean
}

/** The views of the registered names, by name, from each name's registrations (oldest first). */
export function toWorkflowViews(versions: ReadonlyMap<string, readonly string[]>): WorkflowView[] {
  return [...versions.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, hashes]) => {
      const current = hashes.at(-1)!
      return {
        name,
        hash: current,
        versions: [...new Set(hashes)].map((hash) => ({ hash, current: hash === current })),
      }
    })
}
