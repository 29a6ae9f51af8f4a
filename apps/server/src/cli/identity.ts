import type { Command } from 'commander'
import type { PrincipalKind, Role } from '@shiioo/core'
import { DEFAULT_TENANT, PRINCIPAL_KINDS, ROLES, ShiiooError, parseTenantId } from '@shiioo/core'
import type { PrincipalView, TokenView } from '@shiioo/orchestrator'
import { shellWord } from './command-line.js'
import type { CommandContext } from './context.js'
import { formatInstant, formatTable } from './format.js'
import type { GlobalOptions } from './options.js'
import { QUIET, withRemoteOptions } from './options.js'
import { collect, withSession } from './session.js'

interface IdentityOptions extends GlobalOptions {
  tenant: string
  json?: boolean
}

interface CreatePrincipalOptions extends IdentityOptions {
  kind: string
  role: string[]
}

interface RolesOptions extends IdentityOptions {
  role: string[]
}

interface DisableOptions extends IdentityOptions {
  reason?: string
}

interface CreateTokenOptions extends IdentityOptions {
  name: string
  expiresIn?: string
  expiresAt?: string
}

interface ListTokensOptions extends IdentityOptions {
  principal?: string
}

const TENANT_HELP = 'the tenant of the principals and tokens (the one you act in)'
const ROLE_HELP = `a role (repeatable): ${ROLES.join(', ')}`
const READ_ONLY = { create: false, indexOnDemand: true, readOnly: true } as const
/** Principals and tokens: no run is driven, so no capacity source's key is needed. */
const CHANGE = { create: false, indexOnDemand: true, drivesRuns: false } as const
const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 }

function rolesOf(values: readonly string[]): Role[] {
  for (const r of values) {
    if (!(ROLES as readonly string[]).includes(r)) {
      throw new ShiiooError('INVALID_INPUT', `--role must be one of ${ROLES.join(', ')}, not "${r}"`, {
        details: { field: '--role' },
      })
    }
  }
  return values as Role[]
}

function kindOf(text: string): PrincipalKind {
  if ((PRINCIPAL_KINDS as readonly string[]).includes(text)) return text as PrincipalKind
  throw new ShiiooError('INVALID_INPUT', `--kind must be user or agent, not "${text}"`, {
    details: { field: '--kind' },
  })
}

/** `--expires-in 30d` (or `12h`, `90m`) as an instant from now, or `--expires-at` as given. */
function expiryOf(options: CreateTokenOptions): string | undefined {
  if (options.expiresIn !== undefined && options.expiresAt !== undefined) {
    throw new ShiiooError('INVALID_INPUT', 'give --expires-in or --expires-at, not both')
  }
  if (options.expiresIn === undefined) return options.expiresAt
  const match = /^(\d{1,6})([mhd])$/.exec(options.expiresIn)
  if (!match) {
    throw new ShiiooError(
      'INVALID_INPUT',
      `--expires-in must be a number and m, h or d (90m, 12h, 30d), not "${options.expiresIn}"`,
      {
        details: { field: '--expires-in' },
      },
    )
  }
  return new Date(Date.now() + Number(match[1]) * UNITS[match[2]!]!).toISOString()
}

/** ` --tenant <t>` when not the default, so a printed command acts in the same tenant. */
function tenantArg(tenant: string): string {
  return tenant === DEFAULT_TENANT ? '' : ` --tenant ${shellWord(tenant)}`
}

function listOf(values: readonly string[]): string {
  return values.length === 0 ? '-' : values.join(',')
}

function principalLine(p: PrincipalView): string {
  return `${p.kind} ${p.name} (${p.id}) in tenant ${p.tenant}, roles ${listOf(p.roles)}, ${p.status}`
}

function printPrincipal(ctx: CommandContext, options: IdentityOptions, verb: string, p: PrincipalView): void {
  if (options.json) ctx.io.out.write(JSON.stringify(p) + '\n')
  else ctx.io.out.write(`${verb} ${principalLine(p)}\n`)
}

function tokenRows(tokens: readonly TokenView[], names: ReadonlyMap<string, string>): string[][] {
  return tokens.map((t) => [
    t.id,
    t.prefix,
    names.get(t.principalId) ?? t.principalId,
    t.name,
    t.status,
    t.expiresAt === null ? 'never' : formatInstant(t.expiresAt),
    formatInstant(t.createdAt),
  ])
}

export function registerPrincipal(program: Command, ctx: CommandContext): void {
  const principal = program
    .command('principal')
    .description("manage a tenant's principals: users and agents (service accounts) and their roles")

  withRemoteOptions(
    principal
      .command('create')
      .description('make a principal (then give it a token with `shiioo token create <name>`)')
      .argument('<name>', 'unique in the tenant: lowercase letters, digits, ., _ or -')
      .option('--kind <kind>', 'user (a person) or agent (a script, a service, an LLM agent)', 'user')
      .option('--role <role>', ROLE_HELP, collect, [])
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print the principal as JSON'),
    QUIET,
  ).action(async (name: string, options: CreatePrincipalOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    const command = { kind: kindOf(options.kind), name, roles: rolesOf(options.role) }
    await withSession(options, { ...CHANGE, tenant, remote: true }, async ({ services, caller, dataDirArg }) => {
      const p = await services.identity.createPrincipal(caller, command)
      printPrincipal(ctx, options, 'created', p)
      if (!options.json) {
        if (p.roles.length === 0) {
          ctx.io.err.write(
            `it has no role yet, so it may do nothing: \`${ctx.shiioo} principal roles ${p.name} --role viewer${tenantArg(tenant)}${dataDirArg}\`\n`,
          )
        }
        ctx.io.err.write(`give it a token: ${ctx.shiioo} token create ${p.name}${tenantArg(tenant)}${dataDirArg}\n`)
      }
    })
  })

  withRemoteOptions(
    principal
      .command('list')
      .description("list the tenant's principals")
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print the principals as a JSON array'),
    QUIET,
  ).action(async (options: IdentityOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    await withSession(options, { ...READ_ONLY, tenant, remote: true }, async ({ services, caller }) => {
      const list = await services.identity.listPrincipals(caller)
      if (options.json) {
        ctx.io.out.write(JSON.stringify(list) + '\n')
        return
      }
      if (list.length === 0) {
        ctx.io.err.write(`no principals in tenant ${tenant}\n`)
        return
      }
      const rows = list.map((p) => [p.id, p.name, p.kind, listOf(p.roles), p.status, formatInstant(p.createdAt)])
      ctx.io.out.write(formatTable(['ID', 'NAME', 'KIND', 'ROLES', 'STATUS', 'CREATED'], rows))
    })
  })

  withRemoteOptions(
    principal
      .command('roles')
      .description("set a principal's roles (all of them: the ones not given are taken away)")
      .argument('<principal>', 'its name or id')
      .option('--role <role>', ROLE_HELP, collect, [])
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print the principal as JSON'),
    QUIET,
  ).action(async (ref: string, options: RolesOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    if (options.role.length === 0) {
      throw new ShiiooError(
        'INVALID_INPUT',
        `give --role at least once (${ROLES.join(', ')}); to stop a principal, disable it`,
        {
          details: { field: '--role' },
        },
      )
    }
    const roles = rolesOf(options.role)
    await withSession(options, { ...CHANGE, tenant, remote: true }, async ({ services, caller }) => {
      printPrincipal(ctx, options, 'updated', await services.identity.setRoles(caller, ref, roles))
    })
  })

  withRemoteOptions(
    principal
      .command('disable')
      .description('disable a principal for good: its tokens stop working at once')
      .argument('<principal>', 'its name or id')
      .option('--reason <text>', 'why, recorded with the change')
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print the principal as JSON'),
    QUIET,
  ).action(async (ref: string, options: DisableOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    await withSession(options, { ...CHANGE, tenant, remote: true }, async ({ services, caller }) => {
      const p = await services.identity.disablePrincipal(caller, ref, options.reason)
      printPrincipal(ctx, options, 'disabled', p)
    })
  })
}

export function registerToken(program: Command, ctx: CommandContext): void {
  const token = program.command('token').description('make, list and revoke API tokens (bearer tokens for the server)')

  withRemoteOptions(
    token
      .command('create')
      .description('make an API token for a principal: printed once on stdout, stored only as a hash')
      .argument('<principal>', 'its name or id')
      .option('--name <name>', 'what the token is for (ci, laptop)', 'default')
      .option('--expires-in <span>', 'it stops working after this long: 90m, 12h, 30d')
      .option('--expires-at <instant>', 'it stops working at this ISO-8601 instant')
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print { token, view } as JSON (the token is in it: keep the output secret)'),
    QUIET,
  ).action(async (ref: string, options: CreateTokenOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    const expiresAt = expiryOf(options)
    await withSession(options, { ...CHANGE, tenant, remote: true }, async ({ services, caller, dataDirArg }) => {
      const made = await services.identity.createToken(caller, {
        principal: ref,
        name: options.name,
        ...(expiresAt === undefined ? {} : { expiresAt }),
      })
      if (options.json) {
        ctx.io.out.write(JSON.stringify(made) + '\n')
        return
      }
      const v = made.view
      const expiry = v.expiresAt === null ? 'it does not expire' : `it expires at ${formatInstant(v.expiresAt)}`
      ctx.io.err.write(`token ${v.id} (${v.name}) for principal ${ref}; ${expiry}. It is shown only this once:\n`)
      ctx.io.out.write(made.token + '\n')
      ctx.io.err.write(
        `keep it in a secret store; send it as \`Authorization: Bearer <token>\`, or \`export SHIIOO_TOKEN=<token>\`\n` +
          `revoke it with: ${ctx.shiioo} token revoke ${v.id}${tenantArg(tenant)}${dataDirArg}\n`,
      )
    })
  })

  withRemoteOptions(
    token
      .command('list')
      .description("list the tenant's API tokens by id and prefix (never the tokens)")
      .option('--principal <principal>', "only this principal's tokens (its name or id)")
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print the tokens as a JSON array'),
    QUIET,
  ).action(async (options: ListTokensOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    await withSession(options, { ...READ_ONLY, tenant, remote: true }, async ({ services, caller }) => {
      const { identity } = services
      const list = await identity.listTokens(
        caller,
        options.principal === undefined ? {} : { principal: options.principal },
      )
      if (options.json) {
        ctx.io.out.write(JSON.stringify(list) + '\n')
        return
      }
      if (list.length === 0) {
        ctx.io.err.write('no tokens\n')
        return
      }
      const names = new Map((await identity.listPrincipals(caller)).map((p) => [p.id, p.name]))
      const header = ['ID', 'PREFIX', 'PRINCIPAL', 'NAME', 'STATUS', 'EXPIRES', 'CREATED']
      ctx.io.out.write(formatTable(header, tokenRows(list, names)))
    })
  })

  withRemoteOptions(
    token
      .command('revoke')
      .description('revoke an API token: a running server refuses it within moments')
      .argument('<token-id>', 'its id (tok_..., as `shiioo token list` shows)')
      .option('--tenant <tenant>', TENANT_HELP, DEFAULT_TENANT)
      .option('--json', 'print the token as JSON'),
    QUIET,
  ).action(async (id: string, options: IdentityOptions) => {
    const tenant = parseTenantId(options.tenant, '--tenant')
    await withSession(options, { ...CHANGE, tenant, remote: true }, async ({ services, caller }) => {
      const v = await services.identity.revokeToken(caller, id)
      if (options.json) ctx.io.out.write(JSON.stringify(v) + '\n')
      else ctx.io.out.write(`revoked token ${v.id} (${v.prefix}…, ${v.name})\n`)
    })
  })
}
