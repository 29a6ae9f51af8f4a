import { PRINCIPAL_KINDS, ROLES } from '@shiioo/core'
import type { CreatedTokenView, PrincipalView, TokenView, WhoAmIView } from '@shiioo/orchestrator'
import { TOKEN_STATUSES } from '@shiioo/orchestrator'
import { given } from './args.js'
import type { Builder } from './builder.js'
import type { GraphQLServices } from './context.js'
import type { EventTypes } from './event-types.js'

/**
 * Who the caller is, and the tenant's principals and API tokens: each field calls one identity
 * service method with the caller (the service authorizes, audits and keeps tenants apart).
 */
export function identityTypes(builder: Builder, events: EventTypes) {
  const RoleEnum = builder.enumType('Role', { values: ROLES })
  const PrincipalKind = builder.enumType('PrincipalKind', { values: PRINCIPAL_KINDS })
  const Principal = builder.objectRef<PrincipalView>('Principal').implement({
    description: 'A user or an agent (service account) of one tenant.',
    fields: (t) => ({
      id: t.exposeID('id'),
      tenant: t.exposeString('tenant'),
      kind: t.expose('kind', { type: PrincipalKind }),
      name: t.exposeString('name'),
      roles: t.expose('roles', { type: [RoleEnum] }),
      status: t.exposeString('status', { description: 'active or disabled' }),
      createdAt: t.exposeString('createdAt'),
    }),
  })
  const TokenStatus = builder.enumType('TokenStatus', { values: TOKEN_STATUSES })
  const ApiToken = builder.objectRef<TokenView>('ApiToken').implement({
    description: 'An API token as listed: its id and prefix, never the token itself.',
    fields: (t) => ({
      id: t.exposeID('id'),
      principalId: t.exposeID('principalId'),
      name: t.exposeString('name'),
      prefix: t.exposeString('prefix', { description: 'Its first 14 characters, to tell it apart.' }),
      status: t.expose('status', { type: TokenStatus }),
      createdAt: t.exposeString('createdAt'),
      expiresAt: t.exposeString('expiresAt', { nullable: true }),
      revokedAt: t.exposeString('revokedAt', { nullable: true }),
    }),
  })
  const CreatedToken = builder.objectRef<CreatedTokenView>('CreatedToken').implement({
    fields: (t) => ({
      token: t.exposeString('token', { description: 'The token: shown in this answer only, never again.' }),
      apiToken: t.expose('view', { type: ApiToken }),
    }),
  })
  const Viewer = builder.objectRef<WhoAmIView>('Viewer').implement({
    description: 'Who the token acts as.',
    fields: (t) => ({
      tenant: t.exposeString('tenant'),
      actor: t.expose('actor', { type: events.Actor }),
      roles: t.expose('roles', { type: [RoleEnum] }),
      principal: t.expose('principal', {
        type: Principal,
        nullable: true,
        description: 'Null for a caller that is no principal (a local command).',
      }),
    }),
  })
  return { Role: RoleEnum, PrincipalKind, Principal, ApiToken, CreatedToken, Viewer }
}

export type IdentityTypes = ReturnType<typeof identityTypes>

export function identityQueries(builder: Builder, services: GraphQLServices, types: IdentityTypes) {
  builder.queryFields((t) => ({
    viewer: t.field({
      type: types.Viewer,
      description: 'Who the token acts as: its principal, tenant and roles.',
      resolve: (_root, _args, ctx) => services.identity.whoami(ctx.caller),
    }),
    principals: t.field({
      type: [types.Principal],
      description: "The tenant's principals, oldest first.",
      resolve: (_root, _args, ctx) => services.identity.listPrincipals(ctx.caller),
    }),
    principal: t.field({
      type: types.Principal,
      description: 'One principal, by id or name.',
      args: { ref: t.arg.string({ required: true }) },
      resolve: (_root, args, ctx) => services.identity.getPrincipal(ctx.caller, args.ref),
    }),
    tokens: t.field({
      type: [types.ApiToken],
      description: "The tenant's API tokens (or one principal's, by id or name), oldest first.",
      args: { principal: t.arg.string() },
      resolve: (_root, args, ctx) => services.identity.listTokens(ctx.caller, given(args)),
    }),
  }))
}

export function identityMutations(builder: Builder, services: GraphQLServices, types: IdentityTypes) {
  builder.mutationFields((t) => ({
    createPrincipal: t.field({
      type: types.Principal,
      description: 'A user or an agent of the tenant; give it a token with createToken.',
      args: {
        kind: t.arg({ type: types.PrincipalKind, required: true }),
        name: t.arg.string({ required: true }),
        roles: t.arg({ type: [types.Role], required: true }),
      },
      resolve: (_root, args, ctx) => services.identity.createPrincipal(ctx.caller, args),
    }),
    setRoles: t.field({
      type: types.Principal,
      description: "Replaces a principal's roles (by id or name).",
      args: { principal: t.arg.string({ required: true }), roles: t.arg({ type: [types.Role], required: true }) },
      resolve: (_root, args, ctx) => services.identity.setRoles(ctx.caller, args.principal, args.roles),
    }),
    disablePrincipal: t.field({
      type: types.Principal,
      description: 'Disables a principal for good: its tokens stop working at once.',
      args: { principal: t.arg.string({ required: true }), reason: t.arg.string() },
      resolve: (_root, args, ctx) =>
        services.identity.disablePrincipal(ctx.caller, args.principal, args.reason ?? undefined),
    }),
    createToken: t.field({
      type: types.CreatedToken,
      description: 'Makes an API token for a principal: `token` is shown in this answer only.',
      args: {
        principal: t.arg.string({ required: true }),
        name: t.arg.string({ required: true, description: 'What it is for (ci, laptop).' }),
        expiresAt: t.arg.string({ description: 'An ISO-8601 instant; absent: it does not expire.' }),
      },
      resolve: (_root, args, ctx) =>
        services.identity.createToken(ctx.caller, {
          principal: args.principal,
          name: args.name,
          ...given({ expiresAt: args.expiresAt }),
        }),
    }),
    revokeToken: t.field({
      type: types.ApiToken,
      description: 'Revokes a token by its id: the next request with it is refused.',
      args: { tokenId: t.arg.id({ required: true }) },
      resolve: (_root, args, ctx) => services.identity.revokeToken(ctx.caller, String(args.tokenId)),
    }),
  }))
}
