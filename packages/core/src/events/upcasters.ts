/**
 * Upcasters turn the data of an old schema version into the next one: key `"<type>@<v>"` maps
 * version v to v+1. A reader chains them up to the catalog's current version. When a type's
 * schema changes, bump its `v` in the catalog, add the upcaster here, and add a golden log of the
 * old version to the fixtures.
 */
export type Upcaster = (data: unknown) => unknown
export type Upcasters = Readonly<Record<string, Upcaster>>

export const upcasters: Upcasters = {
  /** v1 named a parent run by id only (`parentRunId`); v2 names the parent run and step (`parent`). */
  'run.started@1': (data) => {
    if (typeof data !== 'object' || data === null) return data
    const { parentRunId, ...rest } = data as Record<string, unknown>
    return parentRunId === undefined ? rest : { ...rest, parent: { runId: parentRunId } }
  },
}
