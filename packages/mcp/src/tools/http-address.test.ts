import { describe, expect, it } from 'vitest'
import { formatIp, inCidr, nonPublicKind, parseCidr, parseIp } from './http-address.js'

const kind = (text: string) => nonPublicKind(parseIp(text)!)

describe('IP addresses', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.1.2', 'loopback'],
    ['::1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['10.1.2.3', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.0.10', 'private'],
    ['fd12:3456::1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['100.64.0.1', 'shared (CGNAT)'],
    ['224.0.0.1', 'multicast'],
    ['ff02::1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::7f00:1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:7f00:1::1', 'loopback'],
    ['2001:0:4136:e378::1', 'reserved'],
    ['::127.0.0.1', 'reserved'],
    ['2001:db8::1', 'documentation'],
  ])('%s is %s', (address, expected) => {
    expect(kind(address)).toBe(expected)
  })

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    '%s is public',
    (address) => {
      expect(kind(address)).toBeUndefined()
    },
  )

  it('formats addresses as URLs write them', () => {
    expect(formatIp(parseIp('::ffff:127.0.0.1')!)).toBe('::ffff:7f00:1')
    expect(formatIp(parseIp('[0:0:0:0:0:0:0:1]')!)).toBe('::1')
    expect(formatIp(parseIp('1:2:3:4:5:6:7:8')!)).toBe('1:2:3:4:5:6:7:8')
    expect(formatIp(parseIp('10.0.0.1')!)).toBe('10.0.0.1')
  })

  it('matches CIDR blocks and refuses bad ones', () => {
    expect(inCidr(parseIp('10.9.8.7')!, parseCidr('10.0.0.0/8')!)).toBe(true)
    expect(inCidr(parseIp('11.0.0.1')!, parseCidr('10.0.0.0/8')!)).toBe(false)
    expect(inCidr(parseIp('::1')!, parseCidr('::1')!)).toBe(true)
    expect(inCidr(parseIp('127.0.0.1')!, parseCidr('::1/128')!)).toBe(false)
    expect(inCidr(parseIp('2001:db8::5')!, parseCidr('2001:db8::/32')!)).toBe(true)
    expect(parseCidr('10.0.0.0/33')).toBeUndefined()
    expect(parseCidr('10.0.0.0/x')).toBeUndefined()
    expect(parseCidr('example.com')).toBeUndefined()
    expect(parseIp('2130706433')).toBeUndefined()
  })
})
