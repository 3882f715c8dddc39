/**
 * How trace events are stored (docs/redis-layout.md): one Redis list per trace id (a
 * queue id, or `S…` for an SMTP session that never reached DATA) holding compact JSON
 * events, and index zsets per recipient, sender and Message-ID, all under the trace id's
 * queue shard tag so one pipeline per shard writes them (Redis Cluster: one slot each).
 */
import { newMessageId, shardOf } from '../mailqueue/ids.js';
import type { TraceEvent } from '../log/observer.js';

/** A stored event: the TraceEvent without what the key already says. */
export type StoredEvent = (TraceEvent extends infer E ? (E extends TraceEvent ? Omit<E, 'id' | 'session'> : never) : never) & {
  readonly session?: string;
};

export interface TraceSettings {
  readonly shards: number;
  readonly retentionMs: number;
  readonly maxEventsPerMessage: number;
  readonly maxIndexEntries: number;
}

/** The trace id of an SMTP session's own record (refusals with no message): sorts like queue ids, carries a shard. */
export function sessionTraceId(shard: number, now = Date.now()): string {
  return `S${newMessageId(shard, now)}`;
}

/** The shard a trace id lives in (queue ids and session ids alike). */
export function traceShard(id: string): number {
  return shardOf(id.startsWith('S') ? id.slice(1) : id);
}

/** Index values are lower-cased addresses and Message-IDs as given (case matters there, rarely). */
export const indexValue = (kind: 'r' | 's' | 'm', value: string): string => (kind === 'm' ? value : value.toLowerCase());

export function storedEvent(e: TraceEvent): StoredEvent {
  const rest: Record<string, unknown> = { ...e };
  delete rest.id;
  if (e.kind !== 'received') delete rest.session;
  return rest as StoredEvent;
}
