import type { Logger, LogContext } from '@shiioo/core'
import { pino } from 'pino'
import type { LogLevel } from './config/index.js'

function adapt(p: pino.Logger): Logger {
  return {
    debug: (message: string, context?: LogContext) => p.debug(context ?? {}, message),
    info: (message: string, context?: LogContext) => p.info(context ?? {}, message),
    warn: (message: string, context?: LogContext) => p.warn(context ?? {}, message),
    error: (message: string, context?: LogContext) => p.error(context ?? {}, message),
    child: (context: LogContext) => adapt(p.child(context)),
  }
}

/**
 * Context keys that may hold a secret, wherever they appear (top level or one level down): their
 * values are written as `[redacted]`. Tokens are never meant to be logged; this is the net under that.
 */
export const REDACTED_KEYS = ['adminToken', 'token', 'authorization', 'apiKey', 'password', 'secret'] as const

/**
 * JSON lines on stderr, so stdout stays free for command output. Writes are synchronous: a CLI
 * command or a crashing server must not lose its last lines when the process ends.
 */
export function createLogger(
  level: LogLevel,
  destination: pino.DestinationStream = pino.destination({ dest: 2, sync: true }),
): Logger {
  const paths = REDACTED_KEYS.flatMap((key) => [key, `*.${key}`])
  return adapt(pino({ level, redact: { paths, censor: '[redacted]' } }, destination))
}
