import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi'
import { PRINCIPAL_ID, PRINCIPAL_KINDS, PRINCIPAL_NAME, ROLES, TOKEN_ID } from '@shiioo/core'
import type { Orchestrator } from '@shiioo/orchestrator'
import { TOKEN_STATUSES } from '@shiioo/orchestrator'
import type { AppEnv } from '../env.js'
import type { ValidationHook } from '../openapi.js'
import { Actor, BEARER, errorResponses, json } from '../schemas.js'

const security = [{ [BEARER]: [] }]
const tags = ['identity']

const Role = z.enum(ROLES).openapi('Role')
const Roles = z.array(Role).max(16)
const Instant = z.string().openapi({ description: 'ISO-8601 UTC instant', example: '2026-12-03T09:00:00.000Z' })

const Principal = z
  .object({
    id: z.string().openapi({ example: 'prn_01M8Y6E86G71B4R6WTMF7BAYDW' }),
    tenant: z.string(),
    kind: z.enum(PRINCIPAL_KINDS),
    name: z.string(),
    roles: z.array(Role),
    status: z.enum(['active', 'disabled']),
    createdAt: Instant,
  })
  .openapi('Principal')

const Token = z
  .object({
    id: z.string().openapi({ example: 'tok_01M8Y6EBEMVXWG1WPV77HQBWHP' }),
    principalId: z.string(),
    name: z.string(),
    prefix: z.string().openapi({ description: 'The token’s first 14 characters, to tell it apart' }),
    status: z.enum(TOKEN_STATUSES),
    createdAt: Instant,
    expiresAt: Instant.nullable(),
    revokedAt: Instant.nullable(),
  })
  .openapi('Token', { description: 'An API token as listed: never the token itself, nor its hash' })

const CreatedToken = Token.extend({
  token: z.string().openapi({
    description: 'The token: shown in this answer only, never again',
    example: 'shiioo_yOFGqDZtqte1jO5xESTzapAAJNEl-Pq--wQ4ZBLJgSQ',
  }),
}).openapi('CreatedToken')

const Me = z
  .object({
    tenant: z.string(),
    actor: Actor,
    roles: z.array(Role),
    principal: Principal.nullable().openapi({
      description: 'The principal the token stands for (null for a caller that is not one, such as a local command)',
    }),
  })
  .openapi('Me')

const principalRef = () =>
  z
    .string()
    .max(64)
    .refine((s) => PRINCIPAL_ID.test(s) || PRINCIPAL_NAME.test(s), 'a principal id (prn_ + ULID) or name')
const PrincipalRef = principalRef().openapi({
  param: { name: 'principal', in: 'path' },
  description: 'A principal’s id (prn_ + ULID) or its name',
  example: 'ci-bot',
})
const principalParams = z.object({ principal: PrincipalRef })
const tokenParams = z.object({
  tokenId: z
    .string()
    .regex(TOKEN_ID, 'a token id (tok_ + ULID)')
    .openapi({ param: { name: 'tokenId', in: 'path' }, example: 'tok_01M8Y6EBEMVXWG1WPV77HQBWHP' }),
})

const body = <T extends z.ZodType>(schema: T, required = true) => ({
  required,
  content: { 'application/json': { schema } },
})

const me = createRoute({
  method: 'get',
  path: '/api/me',
  tags,
  security,
  summary: 'Who the token acts as: its principal, tenant and roles',
  responses: { 200: json(Me, 'The caller'), ...errorResponses() },
})

const listPrincipals = createRoute({
  method: 'get',
  path: '/api/principals',
  tags,
  security,
  summary: 'The tenant’s principals (users and agents), oldest first',
  responses: { 200: json(z.object({ items: z.array(Principal) }), 'The principals'), ...errorResponses() },
})

const createPrincipal = createRoute({
  method: 'post',
  path: '/api/principals',
  tags,
  security,
  summary: 'Create a principal: a user or an agent (service account) of the caller’s tenant',
  description: 'Give it a token with POST /api/tokens. A name already taken in the tenant is refused (409).',
  request: {
    body: body(
      z
        .object({
          kind: z.enum(PRINCIPAL_KINDS),
          name: z
            .string()
            .regex(PRINCIPAL_NAME, '1-64 lowercase letters, digits, ., _ or -, starting with a letter')
            .openapi({ example: 'ci-bot' }),
          roles: Roles,
        })
        .strict()
        .openapi('NewPrincipal'),
    ),
  },
  responses: { 201: json(Principal, 'The principal made'), ...errorResponses(409, 413) },
})

const getPrincipal = createRoute({
  method: 'get',
  path: '/api/principals/{principal}',
  tags,
  security,
  summary: 'One principal, by id or name',
  request: { params: principalParams },
  responses: { 200: json(Principal, 'The principal'), ...errorResponses(404) },
})

const setRoles = createRoute({
  method: 'put',
  path: '/api/principals/{principal}/roles',
  tags,
  security,
  summary: 'Replace a principal’s roles',
  description: 'Its tokens act with the new roles from their next request.',
  request: {
    params: principalParams,
    body: body(z.object({ roles: Roles }).strict().openapi('PrincipalRoles')),
  },
  responses: { 200: json(Principal, 'The principal with its new roles'), ...errorResponses(404, 413) },
})

const disablePrincipal = createRoute({
  method: 'post',
  path: '/api/principals/{principal}/disable',
  tags,
  security,
  summary: 'Disable a principal for good: its tokens stop working at once',
  description:
    'Its id and name stay, so the audit chain still names it. Disabling a disabled principal changes nothing.',
  request: {
    params: principalParams,
    body: body(z.object({ reason: z.string().min(1).max(500).optional() }).strict(), false),
  },
  responses: { 200: json(Principal, 'The principal, disabled'), ...errorResponses(404, 413) },
})

const listTokens = createRoute({
  method: 'get',
  path: '/api/tokens',
  tags,
  security,
  summary: 'The tenant’s API tokens (or one principal’s), oldest first: ids and prefixes, never a token',
  request: {
    query: z.object({
      principal: PrincipalRef.optional().openapi({
        param: { name: 'principal', in: 'query' },
        description: 'Only this principal’s tokens (its id or name)',
      }),
    }),
  },
  responses: { 200: json(z.object({ items: z.array(Token) }), 'The tokens'), ...errorResponses(404) },
})

const createToken = createRoute({
  method: 'post',
  path: '/api/tokens',
  tags,
  security,
  summary: 'Create an API token for a principal: the answer is the only time the token is shown',
  description:
    'Send it as `Authorization: Bearer <token>`. A disabled principal gets no token (409); an unknown one is 404.',
  request: {
    body: body(
      z
        .object({
          principal: principalRef().openapi({ description: 'The principal’s id or name', example: 'ci-bot' }),
          name: z.string().min(1).max(100).openapi({ description: 'What the token is for', example: 'ci' }),
          expiresAt: z.iso
            .datetime({ offset: true })
            .optional()
            .openapi({ description: 'When it stops working (absent: never)', example: '2027-01-31T00:00:00Z' }),
        })
        .strict()
        .openapi('NewToken'),
    ),
  },
  responses: { 201: json(CreatedToken, 'The token made, with its text'), ...errorResponses(404, 409, 413) },
})

// A POST action, not DELETE: a revoked token is not deleted (it stays listed, as `revoked`, and the
// audit chain names it), like a cancelled run or a disabled principal.
const revokeToken = createRoute({
  method: 'post',
  path: '/api/tokens/{tokenId}/revoke',
  tags,
  security,
  summary: 'Revoke a token: the next request with it is refused (401)',
  description: 'Revoking a revoked token changes nothing and answers it again.',
  request: { params: tokenParams },
  responses: { 200: json(Token, 'The token, revoked'), ...errorResponses(404) },
})

/** Principals and API tokens of the caller's tenant, and who the caller is: one identity service call each. */
export function identityRoutes(orchestrator: Orchestrator, hook: ValidationHook): OpenAPIHono<AppEnv> {
  const { identity } = orchestrator
  const app = new OpenAPIHono<AppEnv>({ defaultHook: hook })
  app.openapi(me, async (c) => c.json(await identity.whoami(c.get('caller')), 200))
  app.openapi(listPrincipals, async (c) => c.json({ items: await identity.listPrincipals(c.get('caller')) }, 200))
  app.openapi(createPrincipal, async (c) =>
    c.json(await identity.createPrincipal(c.get('caller'), c.req.valid('json')), 201),
  )
  app.openapi(getPrincipal, async (c) =>
    c.json(await identity.getPrincipal(c.get('caller'), c.req.valid('param').principal), 200),
  )
  app.openapi(setRoles, async (c) =>
    c.json(await identity.setRoles(c.get('caller'), c.req.valid('param').principal, c.req.valid('json').roles), 200),
  )
  app.openapi(disablePrincipal, async (c) => {
    const reason = (c.req.valid('json') as { reason?: string } | undefined)?.reason
    return c.json(await identity.disablePrincipal(c.get('caller'), c.req.valid('param').principal, reason), 200)
  })
  app.openapi(listTokens, async (c) => {
    const { principal } = c.req.valid('query')
    const items = await identity.listTokens(c.get('caller'), principal === undefined ? {} : { principal })
    return c.json({ items }, 200)
  })
  app.openapi(createToken, async (c) => {
    const { principal, name, expiresAt } = c.req.valid('json')
    const made = await identity.createToken(c.get('caller'), {
      principal,
      name,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    })
    return c.json({ ...made.view, token: made.token }, 201)
  })
  app.openapi(revokeToken, async (c) =>
    c.json(await identity.revokeToken(c.get('caller'), c.req.valid('param').tokenId), 200),
  )
  return app
}
