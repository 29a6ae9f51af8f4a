export type { ShiiooGraphQL } from './schema.js'
export { createGraphQL } from './schema.js'
export type { GraphQLContext, GraphQLServices, Loaders } from './context.js'
export { GRAPHQL_ERRORS, toGraphQLError } from './errors.js'
