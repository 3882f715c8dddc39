/** Trace settings from the configuration, and a writer for a short-lived command (queue operations). */
import type { Config } from '../config/schema.js';
import { parseDuration } from '../config/duration.js';
import { createLogger } from '../log/logger.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import type { TraceSettings } from './record.js';
import { createTraceWriter, type TraceWriter } from './writer.js';

export function traceSettings(config: Pick<Config, 'trace' | 'queue'>): TraceSettings {
  return {
    shards: config.queue.shards,
    retentionMs: parseDuration(config.trace.retention),
    maxEventsPerMessage: config.trace.maxEventsPerMessage,
    maxIndexEntries: config.trace.maxIndexEntries,
  };
}

/** A writer for one command's events, flushed by `close()`; a no-op when trace is off. */
export function operatorTrace(ctx: { readonly config: Config; readonly redis: RedisClient; readonly keys: Keys }): TraceWriter {
  if (!ctx.config.trace.enabled) return { trace: () => undefined, flush: () => Promise.resolve(), close: () => Promise.resolve() };
  return createTraceWriter({ redis: ctx.redis, keys: ctx.keys, settings: traceSettings(ctx.config), logger: createLogger('trace') });
}
