/** The arguments a client gave: GraphQL's null and an absent argument both mean "not given". */
export function given<T extends Record<string, unknown>>(args: T): { [K in keyof T]?: NonNullable<T[K]> } {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(args)) if (value !== null && value !== undefined) out[key] = value
  return out as { [K in keyof T]?: NonNullable<T[K]> }
}
