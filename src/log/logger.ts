/**
 * Structured JSON logs (pino) with stable event codes (docs/log-events.md) and secrets
 * redacted. CLI commands log to stderr at `warn` unless LOG_LEVEL says otherwise, through
 * pino's synchronous destination (a short command writes a few lines); the long-running
 * processes use the asynchronous one of service.ts.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export const REDACT = ['password', '*.password', 'bindPassword', '*.bindPassword', 'auth.pass', 'redis.url', 'token'];

export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'warn'): Logger {
  return pino({ level, base: { component }, redact: { paths: REDACT, censor: '[redacted]' } }, pino.destination(2));
}
