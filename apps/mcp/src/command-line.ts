import { parseArgs } from 'node:util'
import type { TenantId } from '@shiioo/core'
import { DEFAULT_TENANT, ShiiooError, parseTenantId } from '@shiioo/core'
import type { ConfigFlags } from 'shiioo/compose'

export const USAGE = `Usage: shiioo-mcp [options]

Shiioo as an MCP server over stdio (for Claude Desktop, Claude Code and other MCP clients).
stdout carries the MCP protocol only; messages and logs go to stderr.

With a server (--server, SHIIOO_SERVER or [client] server in shiioo.toml), it calls that server's
/mcp endpoint as the principal of SHIIOO_TOKEN. Without one, it opens the data dir itself and acts
as the local user, with admin rights (as the shiioo CLI does).

Options:
  --server <url>       a running Shiioo server to call (env SHIIOO_SERVER; token from SHIIOO_TOKEN)
  --data-dir <path>    data directory when no server is given (env SHIIOO_DATA_DIR; default ./data)
  --config <file>      TOML config file (default ./shiioo.toml when present)
  --tenant <tenant>    the tenant to act in on the data dir (default: the default tenant)
  --log-level <level>  fatal, error, warn, info, debug, trace or silent (env SHIIOO_LOG_LEVEL; default warn)
  -h, --help           this help
  -v, --version        the version
`

export interface CommandLine {
  flags: ConfigFlags
  tenant: TenantId
  help: boolean
  version: boolean
}

/** Reads the options; an unknown option or a stray argument is INVALID_INPUT (exit 2). */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        server: { type: 'string' },
        'data-dir': { type: 'string' },
        config: { type: 'string' },
        tenant: { type: 'string' },
        'log-level': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    })
  } catch (err) {
    throw new ShiiooError('INVALID_INPUT', (err as Error).message)
  }
  const { values } = parsed
  return {
    flags: {
      server: values.server,
      dataDir: values['data-dir'],
      config: values.config,
      logLevel: values['log-level'],
    },
    tenant: values.tenant === undefined ? DEFAULT_TENANT : parseTenantId(values.tenant, '--tenant'),
    help: values.help === true,
    version: values.version === true,
  }
}
