import { readFile, readdir } from 'node:fs/promises'
import { dirname, extname, join, resolve } from 'node:path'
import { ShiiooError } from '@shiioo/core'
import type { WorkflowSource, WorkflowSourceFormat } from '@shiioo/orchestrator'
import { displayPath } from './options.js'

const WORKFLOW_FILE = /\.(ya?ml|json)$/i

function formatOf(path: string): WorkflowSourceFormat | undefined {
  const ext = extname(path).toLowerCase()
  if (ext === '.json') return 'json'
  if (ext === '.yaml' || ext === '.yml') return 'yaml'
  return undefined
}

async function source(path: string, cwd: string): Promise<WorkflowSource> {
  const format = formatOf(path)
  return { text: await readFile(path, 'utf8'), origin: displayPath(path, cwd), ...(format ? { format } : {}) }
}

/** Reads the workflow file a command names; one that is missing or unreadable is bad input, naming the path. */
export async function readWorkflowFile(file: string, cwd: string): Promise<{ path: string; source: WorkflowSource }> {
  const path = resolve(cwd, file)
  try {
    return { path, source: await source(path, cwd) }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      const where = path === file ? '' : ` (${path})`
      throw new ShiiooError(
        'INVALID_INPUT',
        `workflow file ${file} does not exist${where}: give the path of a .yaml or .json workflow definition, ` +
          `relative to the working directory ${cwd}`,
      )
    }
    if (code === 'EISDIR') throw new ShiiooError('INVALID_INPUT', `${file} is a directory, not a workflow file`)
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ShiiooError('INVALID_INPUT', `workflow file ${file} cannot be read: permission denied`)
    }
    throw new ShiiooError('UNAVAILABLE', `cannot read workflow file ${file}: ${(error as Error).message}`, {
      cause: error,
    })
  }
}

/**
 * The other workflow files next to `path` (*.yaml, *.yml, *.json with top-level `steps`), so
 * that sub-workflow steps find their children by name. Files that cannot be read are skipped.
 */
export async function siblingWorkflows(path: string, cwd: string): Promise<WorkflowSource[]> {
  const dir = dirname(path)
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && WORKFLOW_FILE.test(e.name) && join(dir, e.name) !== path)
    .map((e) => e.name)
    .sort()
  const out: WorkflowSource[] = []
  for (const name of names) {
    const s = await source(join(dir, name), cwd).catch(() => null)
    if (!s || !('text' in s)) continue
    const looksLikeWorkflow = s.format === 'json' ? /"steps"\s*:/.test(s.text) : /^steps\s*:/m.test(s.text)
    if (looksLikeWorkflow) out.push(s)
  }
  return out
}
