/**
 * Structured JSON logs (pino) with stable event codes (docs/log-events.md) and secrets
 * redacted. CLI commands log to stderr at `warn` unless LOG_LEVEL says otherwise, through
 * pino's synchronous destination (a short command writes a few lines); the long-running
 * processes use the asynchronous one of service.ts.
 */
import { pino, type Bindings, type ChildLoggerOptions, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** What a redacted value reads in the log. */
export const CENSOR = '[redacted]';

/** Paths pino redacts itself. None is a wildcard: see NESTED. */
const REDACT = ['password', 'bindPassword', 'auth.pass', 'redis.url', 'token'];

/**
 * Keys censored one level down under any key of a logged object (`x.password`), by
 * `censorNested`. pino's own `*.password` ran its wildcard redactor on every property of every
 * line, parsing the paths again each time: ~3 µs and ~7 KB of garbage per line (issue 15).
 */
const NESTED = ['password', 'bindPassword'] as const;

/**
 * `obj` with every `NESTED` key of its object values censored: the values holding one are
 * copied (prototype and own properties, so an Error stays an Error), `obj` itself never
 * changes. Objects without one are returned as they are: a line pays one check per object
 * value. It sees the logged object (`formatters.log`) and, through `censoredChildren`, a
 * child's bindings; not objects interpolated into the message text (`log.info('%o', x)`),
 * which no Switchyard line does.
 */
export function censorNested(obj: Record<string, unknown>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const key in obj) {
    const value = obj[key];
    if (typeof value !== 'object' || value === null || !Object.hasOwn(obj, key)) continue; // pino writes own keys only
    let own: PropertyDescriptorMap | undefined;
    for (const name of NESTED) {
      if (!(name in value)) continue;
      own ??= Object.getOwnPropertyDescriptors(value);
      // shown only where it was: an inherited or hidden key is shadowed, and JSON leaves it out
      own[name] = { value: CENSOR, enumerable: own[name]?.enumerable === true, configurable: true, writable: true };
    }
    if (own !== undefined) (out ??= { ...obj })[key] = Object.create(Object.getPrototypeOf(value) as object | null, own) as object;
  }
  return out ?? obj;
}

/** The pino options of every Switchyard logger. */
export function loggerOptions(component: string, level: string): LoggerOptions {
  return { level, base: { component }, redact: { paths: REDACT, censor: CENSOR }, formatters: { log: censorNested } };
}

type Child = (this: Logger, bindings: Bindings, options?: ChildLoggerOptions) => Logger;

/**
 * `log`, whose `child()` passes the bindings through censorNested first: pino formats a
 * child's bindings once, at `child()`, without `formatters.log`. Every descendant inherits
 * it, as pino makes a child with `Object.create(parent)`.
 */
export function censoredChildren(log: Logger): Logger {
  const child = Reflect.get(log, 'child') as unknown as Child; // called with its own this below; pino types child() per custom levels
  const censored: Child = function (this: Logger, bindings, options) {
    return child.call(this, censorNested(bindings), options);
  };
  Object.defineProperty(log, 'child', { value: censored, configurable: true, writable: true });
  return log;
}

export function createLogger(component: string, level = process.env.LOG_LEVEL ?? 'warn'): Logger {
  return censoredChildren(pino(loggerOptions(component, level), pino.destination(2)));
}
