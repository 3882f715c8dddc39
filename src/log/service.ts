/**
 * The logger of a long-running process (`relay`, `worker`, `up`): pino JSON on stderr through
 * an asynchronous destination (sonic-boom), so a busy relay does not make a write(2) per line.
 * Lines are buffered up to MIN_LENGTH bytes and written at least every FLUSH_MS; nothing is
 * lost on the way out: `flush()` on a normal stop (SIGTERM/SIGINT), a synchronous flush on a
 * fatal error (`exitOnFatal`), and pino's own synchronous flush at process exit.
 * Short CLI commands keep the synchronous destination of `createLogger`.
 */
import { pino } from 'pino';
import { censoredChildren, loggerOptions, type Logger } from './logger.js';

/** Bytes buffered before a write (one page). */
export const MIN_LENGTH = 4096;
/** A quiet process's lines still reach the log within this many milliseconds. */
export const FLUSH_MS = 250;

export interface ServiceLogger {
  readonly log: Logger;
  /** Writes a line another logger made (a whole JSON line: `switchyard up`'s job thread) to the same destination. */
  write(this: void, line: string): void;
  /** Writes out every buffered line (waits for a write in progress first). */
  flush(): Promise<void>;
  /** Writes out every buffered line now, synchronously (fatal paths). */
  flushSync(): void;
}

export function createServiceLogger(component: string, level = process.env.LOG_LEVEL ?? 'info'): ServiceLogger {
  const dest = pino.destination({ dest: 2, sync: false, minLength: MIN_LENGTH, periodicFlush: FLUSH_MS });
  const log = censoredChildren(pino(loggerOptions(component, level), dest));
  const flushSync = (): void => {
    try {
      dest.flushSync();
    } catch {
      // destroyed (EPIPE: nobody reads the log any more) or not open: nothing can be written
    }
  };
  return {
    log,
    write: (line) => void dest.write(line),
    flushSync,
    async flush() {
      // flush() returns once no write is in flight (up to MIN_LENGTH bytes may still be
      // buffered then); the synchronous write after it takes the rest, in order
      await new Promise<void>((resolve) => {
        try {
          dest.flush(() => resolve()); // its error (fsync of a pipe) does not matter here
        } catch {
          resolve();
        }
      });
      flushSync();
    },
  };
}

/**
 * An uncaught exception or unhandled rejection is logged (`SY_FATAL`), the log flushed
 * synchronously, and the process exits 1 — instead of Node's default report, which would
 * leave the buffered lines unwritten.
 */
export function exitOnFatal(logger: ServiceLogger, exit: (code: number) => void = (code) => process.exit(code)): void {
  const fatal =
    (origin: 'uncaughtException' | 'unhandledRejection') =>
    (err: unknown): void => {
      try {
        logger.log.fatal({ event: 'SY_FATAL', origin, err }, 'fatal error; exiting');
      } finally {
        logger.flushSync();
        exit(1);
      }
    };
  process.on('uncaughtException', fatal('uncaughtException'));
  process.on('unhandledRejection', fatal('unhandledRejection'));
}
