import { isIPv4, isIPv6 } from 'node:net'

/**
 * IP addresses as numbers (IPv4 in 32 bits, IPv6 in 128), the ranges that are not the public
 * internet, and CIDR blocks. Written out rather than with net.BlockList so that an IPv6 address
 * that carries an IPv4 one (mapped, NAT64, 6to4) is judged by the IPv4 address it reaches.
 */
export interface IpAddress {
  family: 4 | 6
  value: bigint
}

export interface Cidr {
  family: 4 | 6
  base: bigint
  prefix: number
}

/** Parses an IPv4 or IPv6 address (brackets and an IPv6 zone `%eth0` are dropped); undefined if neither. */
export function parseIp(text: string): IpAddress | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
  const address = bare.includes('%') ? bare.slice(0, bare.indexOf('%')) : bare
  if (isIPv4(address)) return { family: 4, value: ipv4Value(address) }
  if (isIPv6(address)) return { family: 6, value: ipv6Value(address) }
  return undefined
}

/** Parses `10.0.0.0/8`, `fc00::/7`, or a single address (a /32 or /128); undefined if not one. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/')
  const ip = parseIp(slash < 0 ? text : text.slice(0, slash))
  if (ip === undefined) return undefined
  const bits = ip.family === 4 ? 32 : 128
  const prefixText = slash < 0 ? String(bits) : text.slice(slash + 1)
  if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > bits) return undefined
  const prefix = Number(prefixText)
  return { family: ip.family, base: ip.value & mask(bits, prefix), prefix }
}

export function inCidr(ip: IpAddress, cidr: Cidr): boolean {
  if (ip.family !== cidr.family) return false
  return (ip.value & mask(ip.family === 4 ? 32 : 128, cidr.prefix)) === cidr.base
}

/**
 * The IPv4 address an IPv6 one reaches: IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::/96`) and
 * 6to4 (`2002:AABB:CCDD::/16`). Anything else is returned as it is.
 */
export function effectiveIp(ip: IpAddress): IpAddress {
  if (ip.family === 4) return ip
  if (inCidr(ip, MAPPED) || inCidr(ip, NAT64)) return { family: 4, value: ip.value & 0xffffffffn }
  if (inCidr(ip, SIX_TO_FOUR)) return { family: 4, value: (ip.value >> 80n) & 0xffffffffn }
  return ip
}

/**
 * What kind of non-public address `ip` is (`loopback`, `private`, `link-local`, ...), judged by the
 * IPv4 address an IPv6 one carries; undefined for a public unicast address.
 */
export function nonPublicKind(ip: IpAddress): string | undefined {
  const effective = effectiveIp(ip)
  const table = effective.family === 4 ? IPV4_RANGES : IPV6_RANGES
  const found = table.find(([cidr]) => inCidr(effective, cidr))
  if (found !== undefined) return found[1]
  // IPv6 outside 2000::/3 is not global unicast (IANA reserves or assigns all of it otherwise)
  return effective.family === 6 && !inCidr(effective, GLOBAL_UNICAST) ? 'reserved' : undefined
}

/** The usual text of an address (IPv4 dotted, IPv6 compressed as the URL parser writes it). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) return [24n, 16n, 8n, 0n].map((shift) => String((ip.value >> shift) & 0xffn)).join('.')
  return new URL(`http://[${groups(ip.value).join(':')}]`).hostname.slice(1, -1)
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((value, octet) => (value << 8n) | BigInt(octet), 0n)
}

function ipv6Value(address: string): bigint {
  // an IPv4 tail (`::ffff:1.2.3.4`) is written as its two 16-bit groups first
  const lastColon = address.lastIndexOf(':')
  let text = address
  if (address.includes('.', lastColon)) {
    const v4 = ipv4Value(address.slice(lastColon + 1))
    text = `${address.slice(0, lastColon + 1)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`
  }
  const [head = '', tail] = text.split('::')
  const words = (part: string | undefined) => (part ? part.split(':').map((word) => BigInt(`0x${word}`)) : [])
  const left = words(head)
  const right = words(tail)
  const all = tail === undefined ? left : [...left, ...Array<bigint>(8 - left.length - right.length).fill(0n), ...right]
  return all.reduce((value, word) => (value << 16n) | word, 0n)
}

function groups(value: bigint): string[] {
  return [112n, 96n, 80n, 64n, 48n, 32n, 16n, 0n].map((shift) => ((value >> shift) & 0xffffn).toString(16))
}

function mask(bits: number, prefix: number): bigint {
  const all = (1n << BigInt(bits)) - 1n
  return prefix === 0 ? 0n : all ^ ((1n << BigInt(bits - prefix)) - 1n)
}

function cidr(text: string): Cidr {
  const parsed = parseCidr(text)
  if (parsed === undefined) throw new Error(`bad built-in CIDR ${text}`)
  return parsed
}

const MAPPED = cidr('::ffff:0:0/96')
const NAT64 = cidr('64:ff9b::/96')
const SIX_TO_FOUR = cidr('2002::/16')
const GLOBAL_UNICAST = cidr('2000::/3')

/** IANA's special-purpose IPv4 registry, less the few globally reachable anycast blocks. */
const IPV4_RANGES: readonly (readonly [Cidr, string])[] = [
  [cidr('0.0.0.0/8'), 'unspecified'],
  [cidr('10.0.0.0/8'), 'private'],
  [cidr('100.64.0.0/10'), 'shared (CGNAT)'],
  [cidr('127.0.0.0/8'), 'loopback'],
  [cidr('169.254.0.0/16'), 'link-local'],
  [cidr('172.16.0.0/12'), 'private'],
  [cidr('192.0.0.0/24'), 'reserved'],
  [cidr('192.0.2.0/24'), 'documentation'],
  [cidr('192.88.99.0/24'), 'reserved'],
  [cidr('192.168.0.0/16'), 'private'],
  [cidr('198.18.0.0/15'), 'benchmarking'],
  [cidr('198.51.100.0/24'), 'documentation'],
  [cidr('203.0.113.0/24'), 'documentation'],
  [cidr('224.0.0.0/4'), 'multicast'],
  [cidr('240.0.0.0/4'), 'reserved'],
]

/** Named IPv6 blocks that are not the public internet (any other address outside 2000::/3 is `reserved`). */
const IPV6_RANGES: readonly (readonly [Cidr, string])[] = [
  [cidr('::/128'), 'unspecified'],
  [cidr('::1/128'), 'loopback'],
  [cidr('64:ff9b:1::/48'), 'private (local NAT64)'],
  [cidr('fc00::/7'), 'private'],
  [cidr('fe80::/10'), 'link-local'],
  [cidr('fec0::/10'), 'site-local'],
  [cidr('ff00::/8'), 'multicast'],
  [cidr('2001::/23'), 'reserved'], // IETF protocol assignments, Teredo (2001::/32) among them
  [cidr('2001:db8::/32'), 'documentation'],
  [cidr('3fff::/20'), 'documentation'],
]
