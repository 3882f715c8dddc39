/**
 * The trace writer: an Observer's `trace` that never waits on Redis. Events are buffered
 * and flushed every 250 ms (or when 2,000 are pending) in one `trace-write.lua` call per queue
 * shard, so the SMTP replies and deliveries never wait on trace writes; a failed flush is
 * logged and dropped (trace is a record, not the queue: a crash loses at most one interval).
 */
import type { Logger } from '../log/logger.js';
import type { TraceEvent } from '../log/observer.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { indexValue, sessionTraceId, storedEvent, traceShard, type StoredEvent, type TraceSettings } from './record.js';
import { countsOf, writeCounts } from './stats.js';
import { runScript, scripts } from '../store/scripts.js';

export interface TraceWriter {
  trace(event: TraceEvent): void;
  /** Writes everything pending now. */
  flush(): Promise<void>;
  /** Flushes and stops the timer. */
  close(): Promise<void>;
}

export interface TraceWriterDeps {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly settings: TraceSettings;
  readonly logger: Logger;
  readonly flushMs?: number;
  /** Events pending that trigger a flush before the timer. */
  readonly batch?: number;
}

/** Share of index writes that also trim the key (past the retention, over the cap). */
const TRIM_SHARE = 1 / 16;

/** Refusals kept per session before its record is written (a dictionary attack is not kept in memory). */
const SESSION_BUFFER = 200;

interface Pending {
  readonly events: Map<string, string[]>;
  readonly index: { key: string; at: number; id: string }[];
}

interface SessionState {
  rcpts: StoredEvent[];
  first: number;
}

export function createTraceWriter(deps: TraceWriterDeps): TraceWriter {
  const { keys, settings } = deps;
  const flushMs = deps.flushMs ?? 250;
  const batch = deps.batch ?? 2000;
  let pending = new Map<number, Pending>();
  let counters = new Map<string, number>();
  let count = 0;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> = Promise.resolve();
  const sessions = new Map<string, SessionState>();

  const shardPending = (shard: number): Pending => {
    let p = pending.get(shard);
    if (!p) pending.set(shard, (p = { events: new Map(), index: [] }));
    return p;
  };

  function push(id: string, events: readonly StoredEvent[], index: readonly [kind: 'r' | 's' | 'm', value: string][], at: number): void {
    const shard = traceShard(id);
    const p = shardPending(shard);
    const list = p.events.get(id) ?? [];
    for (const e of events) list.push(JSON.stringify(e));
    p.events.set(id, list);
    const qk = keys.mqShard(shard);
    const seen = new Set<string>();
    for (const [kind, value] of index) {
      if (value === '') continue;
      const key = qk.traceIndex(kind, indexValue(kind, value));
      if (seen.has(key)) continue;
      seen.add(key);
      p.index.push({ key, at, id });
    }
    count += events.length;
    if (count >= batch) void flush();
    else timer ??= setTimeout(() => void flush(), flushMs);
  }

  function sessionOf(id: string, at: number): SessionState {
    let s = sessions.get(id);
    if (!s) sessions.set(id, (s = { rcpts: [], first: at }));
    return s;
  }

  /** A session's refusals (and decisions) not taken by a message: its own record. */
  function writeSession(e: Extract<TraceEvent, { kind: 'session-end' }>, s: SessionState): void {
    const refused = s.rcpts.filter((r) => r.kind === 'rcpt' && r.action !== 'route');
    if (refused.length === 0) return;
    const id = sessionTraceId(Math.floor(Math.random() * settings.shards), s.first);
    const head: StoredEvent = { kind: 'session-end', at: e.at, client: e.client, helo: e.helo, session: e.session };
    push(
      id,
      [...refused, head],
      refused.map((r) => ['r', r.kind === 'rcpt' ? r.rcpt : ''] as ['r', string]),
      s.first,
    );
  }

  function trace(e: TraceEvent): void {
    for (const [hour, field] of countsOf(e)) counters.set(`${hour}/${field}`, (counters.get(`${hour}/${field}`) ?? 0) + 1);
    switch (e.kind) {
      case 'rcpt': {
        const s = sessionOf(e.session, e.at);
        if (s.rcpts.length < SESSION_BUFFER) s.rcpts.push(storedEvent(e));
        return;
      }
      case 'received': {
        const s = sessions.get(e.session);
        const decisions = s?.rcpts ?? [];
        if (s) s.rcpts = [];
        const index: [kind: 'r' | 's' | 'm', value: string][] = [['s', e.from]];
        if (e.messageId !== undefined) index.push(['m', e.messageId]);
        // by the address the sender used (a contact's target is in the timeline, not indexed: one key less per contact)
        for (const r of e.rcpts) index.push(['r', r.orig]);
        for (const d of decisions) if (d.kind === 'rcpt') index.push(['r', d.rcpt]);
        push(e.id, [...decisions, storedEvent(e)], index, e.at);
        return;
      }
      case 'session-end': {
        const s = sessions.get(e.session);
        sessions.delete(e.session);
        if (s) writeSession(e, s);
        return;
      }
      default:
        push(e.id, [storedEvent(e)], [], e.at);
    }
  }

  async function write(batchOf: Map<number, Pending>, counts: Map<string, number>): Promise<void> {
    const now = Date.now();
    const ttl = settings.retentionMs;
    await Promise.all([
      // the status page's counters fail on their own: the events themselves may well be written
      writeCounts(deps.redis, keys, counts).catch((err: unknown) =>
        deps.logger.warn(
          { event: 'SY_TRACE_WRITE_FAILED', counters: counts.size, err: String(err) },
          'trace counters not written; dropped',
        ),
      ),
      ...[...batchOf].map(async ([shard, p]) => {
        const qk = keys.mqShard(shard);
        const names: string[] = [];
        const args: (string | number)[] = [ttl, settings.maxEventsPerMessage, settings.maxIndexEntries, now - ttl, p.events.size];
        for (const [id, events] of p.events) {
          names.push(qk.traceTimeline(id));
          args.push(events.length, ...events);
        }
        const byKey = new Map<string, (string | number)[]>();
        for (const ix of p.index) {
          const list = byKey.get(ix.key) ?? [];
          list.push(ix.at, ix.id);
          byKey.set(ix.key, list);
        }
        for (const [key, pairs] of byKey) {
          names.push(key);
          // the reader ignores what is past the retention; trimming on a sample of writes keeps keys bounded
          args.push(Math.random() < TRIM_SHARE ? 1 : 0, pairs.length / 2, ...pairs);
        }
        await runScript(deps.redis, scripts.traceWrite, names, args);
      }),
    ]);
  }

  function flush(): Promise<void> {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (count === 0) return inFlight;
    const taken = pending;
    const counts = counters;
    const n = count;
    pending = new Map();
    counters = new Map();
    count = 0;
    inFlight = inFlight.then(() =>
      write(taken, counts).catch((err: unknown) =>
        deps.logger.warn({ event: 'SY_TRACE_WRITE_FAILED', events: n, err: String(err) }, 'trace events not written; dropped'),
      ),
    );
    return inFlight;
  }

  return {
    trace,
    flush,
    async close() {
      await flush();
    },
  };
}
