import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import type { LookupFunction } from 'node:net'
import { domainToASCII } from 'node:url'
import { ShiiooError } from '@shiioo/core'
import { effectiveIp, formatIp, inCidr, nonPublicKind, parseCidr, parseIp, type Cidr } from './http-address.js'

/**
 * Where http.fetch may connect: the hosts a URL may name (allowHosts), and the non-public addresses
 * it may reach all the same (allowPrivate). The address check runs inside the socket's own DNS
 * lookup, so the address judged is the address connected to (no window for DNS rebinding).
 */
export interface NetworkPolicy {
  /** Undefined: any host. */
  allowHosts: readonly HostPattern[] | undefined
  privateHosts: readonly HostPattern[]
  privateCidrs: readonly Cidr[]
}

/** `example.com` (that host only) or `*.example.com` (any host below it, not example.com itself). */
export type HostPattern = { exact: string } | { below: string }

export function createNetworkPolicy(options: {
  allowHosts?: readonly string[] | undefined
  allowPrivate?: readonly string[] | undefined
}): NetworkPolicy {
  const privateHosts: HostPattern[] = []
  const privateCidrs: Cidr[] = []
  for (const entry of options.allowPrivate ?? []) {
    const cidr = parseCidr(entry.trim())
    if (cidr !== undefined) privateCidrs.push(cidr)
    else privateHosts.push(parseHostPattern(entry, 'allowPrivate'))
  }
  const allowHosts = options.allowHosts?.map((entry) => parseHostPattern(entry, 'allowHosts'))
  return { allowHosts, privateHosts, privateCidrs }
}

/** The host of a URL as patterns compare it: lower case, no brackets, no trailing dot, IPs canonical. */
export function normalHost(hostname: string): string {
  const ip = parseIp(hostname)
  if (ip !== undefined) return formatIp(ip)
  const lower = hostname.toLowerCase()
  return lower.endsWith('.') ? lower.slice(0, -1) : lower
}

export function hostMatches(host: string, patterns: readonly HostPattern[]): boolean {
  // `below` starts with a dot, so `evilexample.com` never matches `*.example.com`
  return patterns.some((p) =>
    'exact' in p ? host === p.exact : host.endsWith(p.below) && host.length > p.below.length,
  )
}

/** Refuses a URL whose host is not in allowHosts (FORBIDDEN naming the host). */
export function checkHost(policy: NetworkPolicy, url: URL): void {
  if (policy.allowHosts === undefined) return
  const host = normalHost(url.hostname)
  if (hostMatches(host, policy.allowHosts)) return
  throw new ShiiooError(
    'FORBIDDEN',
    `http.fetch may not reach ${url.hostname}: the host is not in allow_hosts ([tools.http] in shiioo.toml)`,
    {
      details: { host: url.hostname, reason: 'host_not_allowed' },
    },
  )
}

/**
 * Refuses an address that is not public (loopback, private, link-local, ...) unless allowPrivate
 * names its host or a block holding it: FORBIDDEN naming the host and the address.
 */
export function checkAddress(policy: NetworkPolicy, host: string, address: string): void {
  const ip = parseIp(address)
  if (ip === undefined) throw new ShiiooError('FORBIDDEN', `http.fetch cannot judge the address ${address} of ${host}`)
  const kind = nonPublicKind(ip)
  if (kind === undefined) return
  const effective = effectiveIp(ip)
  if (hostMatches(normalHost(host), policy.privateHosts)) return
  if (policy.privateCidrs.some((cidr) => inCidr(ip, cidr) || inCidr(effective, cidr))) return
  const shown = formatIp(ip)
  const named = normalHost(host) === shown ? shown : `${host} (${shown})`
  throw new ShiiooError(
    'FORBIDDEN',
    `http.fetch may not reach ${named}: a ${kind} address, not in allow_private ([tools.http] in shiioo.toml)`,
    {
      details: { host, address: shown, kind, reason: 'address_not_allowed' },
    },
  )
}

/**
 * A `lookup` for http.request: resolves every address of the host and refuses them all if one is
 * not allowed (a name that also points inside is not one to trust), else answers as asked.
 */
export function guardedLookup(policy: NetworkPolicy): LookupFunction {
  return (host, options, callback) => {
    dnsLookup(host, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error !== null) return callback(error, '', 0)
      const first = addresses[0]
      if (first === undefined) {
        const empty = Object.assign(new Error(`no address for ${host}`), { code: 'ENOTFOUND' })
        return callback(empty, '', 0)
      }
      try {
        for (const { address } of addresses) checkAddress(policy, host, address)
      } catch (refusal) {
        return callback(refusal as Error, '', 0)
      }
      if (options.all === true) return (callback as (e: null, a: LookupAddress[]) => void)(null, addresses)
      callback(null, first.address, first.family)
    })
  }
}

function parseHostPattern(entry: string, option: string): HostPattern {
  const trimmed = entry.trim().toLowerCase()
  const wildcard = trimmed.startsWith('*.')
  const name = wildcard ? trimmed.slice(2) : trimmed
  const ip = wildcard ? undefined : parseIp(name)
  if (ip !== undefined) return { exact: formatIp(ip) }
  const ascii = domainToASCII(name.endsWith('.') ? name.slice(0, -1) : name)
  if (ascii === '' || !/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(ascii) || parseIp(ascii) !== undefined) {
    throw new ShiiooError(
      'INVALID_INPUT',
      `http.fetch option ${option}: ${JSON.stringify(entry)} is not a host name, *.domain, IP address` +
        (option === 'allowPrivate' ? ' or CIDR block' : ''),
      { details: { option, entry } },
    )
  }
  return wildcard ? { below: `.${ascii}` } : { exact: ascii }
}
