import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../src/index.js'
import { createLogger } from '../src/logger.js'
import { tempDirs } from './helpers.js'

const dirs = tempDirs()
afterEach(() => dirs.cleanup())

async function withToml(text: string): Promise<string> {
  const cwd = await dirs.make()
  await writeFile(join(cwd, 'shiioo.toml'), text)
  return cwd
}

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError)
    expect((err as ConfigError).code).toBe('INVALID_INPUT')
    return (err as ConfigError).problems
  }
  throw new Error('expected a ConfigError')
}

describe('loadConfig', () => {
  it('uses the defaults when nothing is set, with the data dir resolved against cwd', async () => {
    const cwd = await dirs.make()
    expect(loadConfig({ cwd })).toEqual({
      host: '127.0.0.1',
      port: 8080,
      dataDir: join(cwd, 'data'),
      leaseTtlMs: 15_000,
      logLevel: 'info',
      engine: { maxConcurrency: 64, maxParallelPerRun: 16 },
      scanMs: 30_000,
      http: { corsOrigins: [], maxBodyBytes: 1_048_576 },
      capacity: null,
      tools: { http: {}, files: false, mcpServers: [] },
      configFile: null,
      adminToken: null,
      remote: null,
    })
  })

  it('reads the tools settings and external MCP servers, their secrets from the variables named for them', async () => {
    const cwd = await withToml(
      [
        '[tools.http]',
        'allow_hosts = ["api.github.com"]',
        'max_bytes = 4096',
        '[tools.files]',
        'roots = [{ name = "docs", path = "./docs" }]',
        '[[mcp.servers]]',
        'prefix = "notes"',
        'command = "node"',
        'args = ["notes.mjs"]',
        'env = ["NOTES_TOKEN"]',
        '[[mcp.servers]]',
        'prefix = "search"',
        'url = "https://mcp.example.com/mcp"',
        'headers = { Authorization = "SEARCH_AUTH" }',
      ].join('\n'),
    )
    const config = loadConfig({ cwd, env: { NOTES_TOKEN: 'n-secret', SEARCH_AUTH: 'Bearer s-secret' } })
    expect(config.tools).toEqual({
      http: { allowHosts: ['api.github.com'], maxBytes: 4096 },
      files: { roots: [{ name: 'docs', path: join(cwd, 'docs') }] },
      mcpServers: [
        {
          prefix: 'notes',
          transport: { kind: 'stdio', command: 'node', args: ['notes.mjs'], env: { NOTES_TOKEN: 'n-secret' }, cwd },
        },
        {
          prefix: 'search',
          transport: {
            kind: 'http',
            url: 'https://mcp.example.com/mcp',
            headers: { Authorization: 'Bearer s-secret' },
          },
        },
      ],
    })
    // a missing variable stops start-up, naming it; a command that calls no tool does not need it
    expect(() => loadConfig({ cwd, env: { NOTES_TOKEN: 'n-secret' } })).toThrow(
      'mcp.servers[1] (search).headers.Authorization: environment variable SEARCH_AUTH is not set',
    )
    expect(loadConfig({ cwd, env: {}, requireKeys: false }).tools.mcpServers).toHaveLength(2)
  })

  it('refuses an MCP server with both or neither of command and url, a prefix used twice, and a bad prefix', async () => {
    const cwd = await withToml(
      [
        '[[mcp.servers]]',
        'prefix = "a"',
        'command = "node"',
        'url = "https://x.example/mcp"',
        '[[mcp.servers]]',
        'prefix = "a"',
      ].join('\n'),
    )
    expect(() => loadConfig({ cwd, env: {} })).toThrow(/give either command .* or url/)
    expect(() => loadConfig({ cwd, env: {} })).toThrow(/the prefix "a" is used twice/)
    const bad = await withToml('[[mcp.servers]]\nprefix = "Bad Prefix"\ncommand = "x"')
    expect(() => loadConfig({ cwd: bad, env: {} })).toThrow(/prefix/)
  })

  it('reads capacity sources and roles, each API key from the variable named for it, never from the file', async () => {
    const cwd = await withToml(
      [
        '[capacity]',
        'default_model = "gpt-x"',
        '[[capacity.sources]]',
        'id = "openai-main"',
        'provider = "openai"',
        'base_url = "http://127.0.0.1:9/v1"',
        'api_key_env = "MY_OPENAI_KEY"',
        'models = ["gpt-x"]',
        'requests_per_minute = 60',
        'price_input_per_1m = 0.5',
        '[roles.writer]',
        'system_prompt = "You write."',
        'model = "gpt-x"',
      ].join('\n'),
    )
    const config = loadConfig({ cwd, env: { MY_OPENAI_KEY: 'sk-test-123' } })
    expect(config.capacity).toEqual({
      defaultModel: 'gpt-x',
      shareLimits: true,
      roles: { writer: { systemPrompt: 'You write.', model: 'gpt-x' } },
      sources: [
        {
          id: 'openai-main',
          provider: 'openai',
          baseUrl: 'http://127.0.0.1:9/v1',
          apiKey: 'sk-test-123',
          models: ['gpt-x'],
          limits: { requestsPerMinute: 60 },
          prices: { inputPer1M: 0.5, outputPer1M: 0 },
        },
      ],
    })
    expect(() => loadConfig({ cwd, env: {} })).toThrow(
      'capacity source openai-main: environment variable MY_OPENAI_KEY is not set (its API key is read from it)',
    )
    // a command that calls no model (costs, events) reads the same file with no key set
    expect(loadConfig({ cwd, env: {}, requireKeys: false }).capacity?.sources[0]?.apiKey).toBeUndefined()
    const bad = await withToml('[[capacity.sources]]\nid = "x"\nprovider = "gemini"\nmodels = ["m"]\n')
    expect(() => loadConfig({ cwd: bad })).toThrow(
      /capacity.sources.0.provider: must be openai, anthropic or simulated \(got "gemini"\)/,
    )
  })

  it('takes capacity.share_limits and capacity.max_wait_ms, and names a bad one', async () => {
    const cwd = await withToml(
      '[capacity]\nshare_limits = false\nmax_wait_ms = 120000\n[[capacity.sources]]\nid = "demo"\nprovider = "simulated"\nmodels = ["simulated"]\n',
    )
    expect(loadConfig({ cwd }).capacity).toMatchObject({ shareLimits: false, maxWaitMs: 120000 })
    const bad = await withToml('[capacity]\nmax_wait_ms = 10\n')
    expect(() => loadConfig({ cwd: bad })).toThrow(/capacity.max_wait_ms: must be at least 1000 ms \(got 10\)/)
  })

  it('takes the lease TTL from shiioo.toml and SHIIOO_STORAGE_LEASE_TTL_MS, and names a bad one', async () => {
    const cwd = await withToml('[storage]\nlease_ttl_ms = 5000\n')
    expect(loadConfig({ cwd }).leaseTtlMs).toBe(5000)
    expect(loadConfig({ cwd, env: { SHIIOO_STORAGE_LEASE_TTL_MS: '2500' } }).leaseTtlMs).toBe(2500)
    expect(() => loadConfig({ cwd, env: { SHIIOO_STORAGE_LEASE_TTL_MS: '500' } })).toThrow(
      /SHIIOO_STORAGE_LEASE_TTL_MS: must be at least 1000 ms \(got 500\)/,
    )
    const bad = await withToml('[storage]\nlease_ttl_ms = "15s"\n')
    expect(() => loadConfig({ cwd: bad })).toThrow(
      /shiioo.toml: storage.lease_ttl_ms: must be a number of milliseconds/,
    )
  })

  it('takes the HTTP limits and CORS origins from [http], and names a bad origin', async () => {
    const cwd = await withToml(
      '[http]\ncors_origins = ["https://ops.example.com", "http://localhost:5173"]\nmax_body_bytes = 4096\n',
    )
    expect(loadConfig({ cwd }).http).toEqual({
      corsOrigins: ['https://ops.example.com', 'http://localhost:5173'],
      maxBodyBytes: 4096,
    })
    const bad = await withToml('[http]\ncors_origins = ["https://ops.example.com/"]\n')
    expect(() => loadConfig({ cwd: bad })).toThrow(/http\.cors_origins\.0: must be an origin/)
  })

  it('takes engine limits from shiioo.toml and SHIIOO_ENGINE_*, and names a bad one', async () => {
    const cwd = await withToml('[engine]\nmax_concurrency = 8\nscan_ms = 250\n')
    expect(loadConfig({ cwd, env: { SHIIOO_ENGINE_MAX_PARALLEL_PER_RUN: '4' } }).engine).toEqual({
      maxConcurrency: 8,
      maxParallelPerRun: 4,
    })
    expect(loadConfig({ cwd }).scanMs).toBe(250)
    expect(() => loadConfig({ cwd, env: { SHIIOO_ENGINE_SCAN_MS: 'soon' } })).toThrow(
      /SHIIOO_ENGINE_SCAN_MS: must be an integer 1-3600000 \(got "soon"\)/,
    )
    // the setting runs used to poll by is gone: an old config is told so, not just refused
    const old = await withToml('[engine]\npoll_ms = 500\n')
    expect(problemsOf(() => loadConfig({ cwd: old }))).toEqual([
      'shiioo.toml: engine.poll_ms was removed: runs no longer poll: the event feed wakes them (ADR 0008); delete the setting',
    ])
    expect(problemsOf(() => loadConfig({ cwd, env: { SHIIOO_ENGINE_POLL_MS: '500' } }))).toEqual([
      'SHIIOO_ENGINE_POLL_MS was removed: runs no longer poll: the event feed wakes them (ADR 0008); unset it',
    ])
    const bad = await withToml('[engine]\nmax_concurrency = 0\n')
    expect(() => loadConfig({ cwd: bad })).toThrow(
      /shiioo.toml: engine.max_concurrency: must be an integer 1-4096 \(got 0\)/,
    )
  })

  it('ranks defaults < shiioo.toml < SHIIOO_* < flags', async () => {
    const cwd = await withToml(
      '[server]\nhost = "0.0.0.0"\nport = 9000\n[storage]\ndata_dir = "from-toml"\n[log]\nlevel = "warn"\n',
    )
    const fromToml = loadConfig({ cwd })
    expect(fromToml).toMatchObject({ host: '0.0.0.0', port: 9000, dataDir: join(cwd, 'from-toml'), logLevel: 'warn' })
    expect(fromToml.configFile).toBe(join(cwd, 'shiioo.toml'))

    const env = { SHIIOO_PORT: '9100', SHIIOO_DATA_DIR: '/srv/env-data', SHIIOO_LOG_LEVEL: 'debug' }
    expect(loadConfig({ cwd, env })).toMatchObject({
      host: '0.0.0.0',
      port: 9100,
      dataDir: '/srv/env-data',
      logLevel: 'debug',
    })

    const flags = { port: '9200', logLevel: 'silent', host: '::1' }
    expect(loadConfig({ cwd, env, flags })).toMatchObject({
      host: '::1',
      port: 9200,
      dataDir: '/srv/env-data',
      logLevel: 'silent',
    })
  })

  it('ranks a command default above the built-in one and below every source', async () => {
    const cwd = await dirs.make()
    expect(loadConfig({ cwd, defaults: { logLevel: 'warn' } }).logLevel).toBe('warn')
    const env = { SHIIOO_LOG_LEVEL: 'debug' }
    expect(loadConfig({ cwd, env, defaults: { logLevel: 'warn' } }).logLevel).toBe('debug')
  })

  it('reads the file named by --config instead of ./shiioo.toml', async () => {
    const cwd = await withToml('[server]\nport = 1111\n')
    await writeFile(join(cwd, 'other.toml'), '[server]\nport = 2222\n')
    expect(loadConfig({ cwd, flags: { config: 'other.toml' } }).port).toBe(2222)
  })

  it('accepts port 0 (pick a free port)', async () => {
    expect(loadConfig({ cwd: await dirs.make(), flags: { port: '0' } }).port).toBe(0)
  })

  it('rejects an unknown key in the TOML, naming the file and the key', async () => {
    const cwd = await withToml('[server]\nprot = 1\n')
    expect(problemsOf(() => loadConfig({ cwd }))).toEqual(['shiioo.toml: server.prot is not a known setting'])
  })

  it('rejects an unknown TOML section', async () => {
    const cwd = await withToml('[sever]\nport = 1\n')
    expect(problemsOf(() => loadConfig({ cwd }))).toEqual(['shiioo.toml: sever is not a known setting'])
  })

  it('reads SHIIOO_ADMIN_TOKEN from the environment only, and names a bad one without showing it', async () => {
    const cwd = await dirs.make()
    const token = 'an-admin-token-of-enough-length-0123456789'
    expect(loadConfig({ cwd, env: { SHIIOO_ADMIN_TOKEN: token } }).adminToken).toBe(token)
    expect(loadConfig({ cwd, env: { SHIIOO_ADMIN_TOKEN: '' } }).adminToken).toBeNull()
    const [problem] = problemsOf(() => loadConfig({ cwd, env: { SHIIOO_ADMIN_TOKEN: 'short secret' } }))
    expect(problem).toMatch(/^SHIIOO_ADMIN_TOKEN: must be 32-512 printable characters without spaces \(it has 12;/)
    expect(problem).not.toContain('short secret')
    const toml = await withToml('[server]\nadmin_token = "x"\n')
    expect(problemsOf(() => loadConfig({ cwd: toml }))).toEqual([
      'shiioo.toml: server.admin_token is not a known setting',
    ])
  })

  it('the logger redacts tokens and keys in a context, at the top level or one level down', () => {
    const lines: string[] = []
    const logger = createLogger('info', { write: (line: string) => void lines.push(line) })
    const secret = 'shiioo_' + 'S'.repeat(43)
    logger.info('started', { adminToken: secret, config: { adminToken: secret, port: 1 }, token: secret })
    logger.child({ request: { authorization: `Bearer ${secret}` } }).warn('refused')
    expect(lines).toHaveLength(2)
    for (const line of lines) expect(line).not.toContain('SSSS')
    expect(JSON.parse(lines[0]!)).toMatchObject({
      adminToken: '[redacted]',
      config: { adminToken: '[redacted]', port: 1 },
    })
  })

  it('rejects an unknown SHIIOO_ variable', async () => {
    const cwd = await dirs.make()
    const [problem] = problemsOf(() => loadConfig({ cwd, env: { SHIIOO_PROT: '1', HOME: '/root' } }))
    expect(problem).toMatch(/^SHIIOO_PROT is not a known setting/)
  })

  it.each([
    ['SHIIOO_PORT', 'abc', 'SHIIOO_PORT: must be an integer 0-65535, 0 picks a free port (got "abc")'],
    ['SHIIOO_PORT', '70000', 'SHIIOO_PORT: must be an integer 0-65535, 0 picks a free port (got 70000)'],
    ['SHIIOO_PORT', '80.5', 'SHIIOO_PORT: must be an integer 0-65535, 0 picks a free port (got "80.5")'],
    [
      'SHIIOO_LOG_LEVEL',
      'loud',
      'SHIIOO_LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
    ],
    ['SHIIOO_DATA_DIR', '', 'SHIIOO_DATA_DIR: must not be empty'],
    ['SHIIOO_HOST', 'bad host', 'SHIIOO_HOST: must be a hostname or IP address (got "bad host")'],
  ])('rejects %s=%j', async (name, value, message) => {
    const cwd = await dirs.make()
    expect(problemsOf(() => loadConfig({ cwd, env: { [name]: value } }))).toEqual([message])
  })

  it('rejects a bad value in the TOML and in a flag, naming where it came from', async () => {
    const cwd = await withToml('[server]\nport = 70000\n[log]\nlevel = 3\n')
    expect(problemsOf(() => loadConfig({ cwd }))).toEqual([
      'shiioo.toml: server.port: must be an integer 0-65535, 0 picks a free port (got 70000)',
      'shiioo.toml: log.level: must be one of fatal, error, warn, info, debug, trace, silent (got 3)',
    ])
    const clean = await dirs.make()
    expect(problemsOf(() => loadConfig({ cwd: clean, flags: { port: 'http' } }))).toEqual([
      '--port: must be an integer 0-65535, 0 picks a free port (got "http")',
    ])
  })

  it('rejects a string port in the TOML rather than guessing', async () => {
    const cwd = await withToml('[server]\nport = "8080"\n')
    expect(problemsOf(() => loadConfig({ cwd }))[0]).toMatch(/^shiioo.toml: server.port: must be an integer/)
  })

  it('rejects a section that is not a table', async () => {
    const cwd = await withToml('server = 5\n')
    expect(problemsOf(() => loadConfig({ cwd }))).toEqual(['shiioo.toml: server: must be a table'])
  })

  it('names the file and line of malformed TOML', async () => {
    const cwd = await withToml('[server]\nport = = 1\n')
    const [problem] = problemsOf(() => loadConfig({ cwd }))
    expect(problem).toMatch(/^shiioo.toml:2:\d+: malformed TOML: /)
  })

  it('requires a file named by --config to exist, but not the default one', async () => {
    const cwd = await dirs.make()
    expect(() => loadConfig({ cwd })).not.toThrow()
    expect(problemsOf(() => loadConfig({ cwd, flags: { config: 'missing.toml' } }))).toEqual([
      '--config missing.toml: file not found',
    ])
  })

  it("requires a simulated source's script to be a file, relative to the config file", async () => {
    const toml = (script: string) =>
      `[[capacity.sources]]\nid = "demo"\nprovider = "simulated"\nscript = "${script}"\nmodels = ["simulated"]\n`
    const cwd = await withToml(toml('demo.yaml'))
    expect(problemsOf(() => loadConfig({ cwd }))).toEqual([
      `capacity source demo: script demo.yaml does not exist (${join(cwd, 'demo.yaml')}; a path relative to the config file)`,
    ])
    await writeFile(join(cwd, 'demo.yaml'), 'rules: []\n')
    expect(loadConfig({ cwd }).capacity?.sources[0]).toMatchObject({ script: join(cwd, 'demo.yaml') })
    const dir = await withToml(toml('.'))
    expect(problemsOf(() => loadConfig({ cwd: dir }))).toEqual([
      `capacity source demo: script . is not a file (${dir})`,
    ])
  })

  it('does not let a bad lower-ranked value hide behind a good higher-ranked one', async () => {
    const cwd = await withToml('[server]\nport = 70000\n')
    expect(() => loadConfig({ cwd, env: { SHIIOO_PORT: '8081' } })).toThrow(ConfigError)
  })
})
