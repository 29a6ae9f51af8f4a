export type { OpenSqliteIndexOptions } from './open.js'
export { openSqliteIndex } from './open.js'
export type { SqliteIndexStore } from './sqlite-index-store.js'
