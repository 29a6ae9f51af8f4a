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
 * JSON lines on stderr, so stdout stays free for command output. Writes are synchronous: a CLI
 * command or a crashing server must not lose its last lines when the process ends.
 */
export function createLogger(level: LogLevel): Logger {
  return adapt(pino({ level }, pino.destination({ dest: 2, sync: true })))
}
