import type { CallerContext } from '@shiioo/orchestrator'
import type { GraphQLSchema } from 'graphql'
import { auditTypes } from './audit-types.js'
import { createBuilder } from './builder.js'
import type { GraphQLContext, GraphQLServices } from './context.js'
import { createContext } from './context.js'
import { eventTypes } from './event-types.js'
import { identityMutations, identityQueries, identityTypes } from './identity.js'
import { mutationType } from './mutation.js'
import { queryType } from './query.js'
import { runTypes } from './run-types.js'
import { subscriptionType } from './subscription.js'
import { toolMutations, toolQueries, toolTypes } from './tool-types.js'

/** The GraphQL API over the orchestrator's services: built once, at start; a context per operation. */
export interface ShiiooGraphQL {
  schema: GraphQLSchema
  /** The context of one operation (a query, a mutation, a subscription) of an authenticated caller. */
  context(caller: CallerContext): GraphQLContext
}

export function createGraphQL(services: GraphQLServices): ShiiooGraphQL {
  const builder = createBuilder()
  const events = eventTypes(builder)
  const runs = runTypes(builder, events)
  const audit = auditTypes(builder, events)
  queryType(builder, services, { runs, events, audit })
  mutationType(builder, services, { runs })
  subscriptionType(builder, services, { runs, events, audit })
  const identity = identityTypes(builder, events)
  identityQueries(builder, services, identity)
  identityMutations(builder, services, identity)
  const tools = toolTypes(builder)
  toolQueries(builder, services, tools)
  toolMutations(builder, services, tools)
  const schema = builder.toSchema({ sortSchema: false })
  return { schema, context: (caller) => createContext(services, caller) }
}
