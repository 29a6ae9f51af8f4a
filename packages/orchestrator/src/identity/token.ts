import { createHash, randomBytes } from 'node:crypto'

/** What every token Shiioo makes starts with, so a leaked one is recognisable (secret scanners, logs). */
export const TOKEN_PREFIX = 'shiioo_'
/** A token Shiioo makes: `shiioo_` + 32 random bytes in base64url (43 characters). */
const GENERATED = /^shiioo_[A-Za-z0-9_-]{43}$/
/**
 * What `authenticate` accepts: a generated token, or one an operator chose (`SHIIOO_ADMIN_TOKEN`):
 * 32-512 printable ASCII characters without spaces. Anything else is refused before any lookup.
 */
const ACCEPTED = /^[\x21-\x7e]{32,512}$/
/** The shortest token an operator may choose. */
export const MIN_CHOSEN_TOKEN_CHARS = 32
const SHOWN_GENERATED = 14
const SHOWN_CHOSEN = 4

/** A new token: 256 bits from the system's CSPRNG. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(32).toString('base64url')
}

/** The only form of a token that is stored: sha256, hex. (A slow hash buys nothing for 256 random bits.) */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex')
}

export function isAcceptedToken(token: string): boolean {
  return ACCEPTED.test(token)
}

/**
 * What a listing shows of a token: the first 14 characters of a generated one (`shiioo_` + 7, 42
 * of its 256 bits); of a chosen one, whose strength is unknown, its first 4.
 */
export function tokenPrefix(token: string): string {
  return token.slice(0, GENERATED.test(token) ? SHOWN_GENERATED : SHOWN_CHOSEN)
}
