import { ShiiooError } from '@shiioo/core'
import { describe, expect, it } from 'vitest'
import { checkAddress, checkHost, createNetworkPolicy, type NetworkPolicy } from './http-policy.js'

/** Whether a check lets through (it refuses with a ShiiooError). */
function passes(check: () => void): boolean {
  try {
    check()
    return true
  } catch (error) {
    expect(error).toBeInstanceOf(ShiiooError)
    return false
  }
}
const allowed = (policy: NetworkPolicy, url: string) => passes(() => checkHost(policy, new URL(url)))

describe('allowHosts', () => {
  const policy = createNetworkPolicy({ allowHosts: ['Example.com', '*.example.org', '10.1.2.3', '[::1]', 'bücher.de'] })

  it.each([
    'https://example.com/a',
    'http://EXAMPLE.COM./',
    'https://api.example.org/',
    'https://a.b.example.org:8443/',
    'http://10.1.2.3/',
    'http://0x0a010203/',
    'http://[0:0::1]/',
    'https://xn--bcher-kva.de/',
    'https://bücher.de/',
  ])('allows %s', (url) => {
    expect(allowed(policy, url)).toBe(true)
  })

  it.each([
    'https://example.org/',
    'https://www.example.com/',
    'https://example.com.evil.test/',
    'https://evilexample.com/',
    'https://evil-example.org/',
    'https://example.org.evil.test/',
    'http://10.1.2.4/',
    'http://[::2]/',
  ])('refuses %s', (url) => {
    expect(allowed(policy, url)).toBe(false)
  })

  it('allows any host when unset', () => {
    expect(allowed(createNetworkPolicy({}), 'https://anything.test/')).toBe(true)
  })
})

describe('allowPrivate', () => {
  const policy = createNetworkPolicy({ allowPrivate: ['10.0.0.0/8', 'db.internal', '*.svc.local', '::1'] })
  const reaches = (host: string, address: string) => passes(() => checkAddress(policy, host, address))

  it('allows a listed block, a listed name, or a public address', () => {
    expect(reaches('10.9.9.9', '10.9.9.9')).toBe(true)
    expect(reaches('x.example', '::ffff:10.0.0.5')).toBe(true)
    expect(reaches('db.internal', '192.168.1.1')).toBe(true)
    expect(reaches('api.svc.local', '172.16.0.1')).toBe(true)
    expect(reaches('localhost', '::1')).toBe(true)
    expect(reaches('example.com', '93.184.215.14')).toBe(true)
  })

  it('refuses what it does not list', () => {
    expect(reaches('localhost', '127.0.0.1')).toBe(false)
    expect(reaches('db.internal.evil', '192.168.1.1')).toBe(false)
    expect(reaches('svc.local', '172.16.0.1')).toBe(false)
    expect(reaches('x.example', '169.254.169.254')).toBe(false)
  })
})
