import type { ObjectFieldBuilder } from '@pothos/core'
import SchemaBuilder from '@pothos/core'
import { Kind, valueFromASTUntyped } from 'graphql'
import type { GraphQLContext } from './context.js'

export interface ShiiooSchemaTypes {
  Context: GraphQLContext
  Scalars: {
    /** Any JSON value: payloads, event data, inputs. */
    JSON: { Input: unknown; Output: unknown }
  }
}

/** A fresh builder (one per schema: the schema is built once, at start). */
export function createBuilder() {
  const builder = new SchemaBuilder<ShiiooSchemaTypes>({})
  builder.scalarType('JSON', {
    description: 'Any JSON value.',
    serialize: (value) => value,
    parseValue: (value) => value,
    parseLiteral: (ast, variables) =>
      ast.kind === Kind.NULL ? null : valueFromASTUntyped(ast, variables ?? undefined),
  })
  return builder
}

export type Builder = ReturnType<typeof createBuilder>

/** The field builder of an object type whose resolvers get `T`: for field sets two types share. */
export type FieldsOf<T> = ObjectFieldBuilder<PothosSchemaTypes.ExtendDefaultTypes<ShiiooSchemaTypes>, T>
