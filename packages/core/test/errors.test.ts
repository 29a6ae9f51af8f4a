import { describe, expect, it } from 'vitest'
import { ShiiooError, toShiiooError } from '../src/index.js'

describe('toShiiooError', () => {
  it('keeps a ShiiooError and calls any other failure INTERNAL', () => {
    const typed = new ShiiooError('CONFLICT', 'taken')
    expect(toShiiooError(typed)).toBe(typed)
    expect(toShiiooError(new RangeError('Maximum call stack size exceeded'))).toMatchObject({
      code: 'INTERNAL',
      message: 'Maximum call stack size exceeded',
    })
  })

  it('says what a file system error means, with its errno and path, never INTERNAL', () => {
    const system = (code: string, syscall: string, path?: string) =>
      Object.assign(new Error(`${code}: ...`), { code, syscall, ...(path ? { path } : {}) })
    expect(toShiiooError(system('EROFS', 'unlink', '/ro/index.sqlite'))).toMatchObject({
      code: 'UNAVAILABLE',
      retryable: false,
      message: 'the file system is read-only (unlink /ro/index.sqlite)',
      details: { errno: 'EROFS', path: '/ro/index.sqlite' },
    })
    expect(toShiiooError(system('ENOTDIR', 'mkdir', '/f/data'))).toMatchObject({
      code: 'UNAVAILABLE',
      retryable: false,
      message: 'a part of the path is a file, not a directory (mkdir /f/data)',
    })
    expect(toShiiooError(system('ENOSPC', 'write'))).toMatchObject({
      code: 'UNAVAILABLE',
      retryable: true,
      message: 'no space left on the device (write)',
    })
    // Node's own fs errors carry the system's code in `info`
    const rm = Object.assign(new Error('Path is a directory'), {
      code: 'ERR_FS_EISDIR',
      syscall: 'rm',
      path: '/d/index.sqlite',
      info: { code: 'EISDIR' },
    })
    expect(toShiiooError(rm)).toMatchObject({ code: 'UNAVAILABLE', details: { errno: 'EISDIR' } })
  })
})
