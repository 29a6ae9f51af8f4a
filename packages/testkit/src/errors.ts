import { ShiiooError } from '@shiioo/core'

/** What a call ended with: 'resolved', or the ShiiooError code it failed with. */
export async function errorCodeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'resolved'
  } catch (err) {
    return err instanceof ShiiooError ? err.code : `not a ShiiooError: ${String(err)}`
  }
}
