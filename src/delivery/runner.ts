/**
 * The delivery runner of a relay: claims due units from the shared queue (and takes those its relay
 * just accepted), sends each as one SMTP transaction to its next hop, then finishes, reschedules or
 * bounces them. Leases are renewed in flight; a dead relay's units are taken over when they expire.
 */
import type { ConnectorConfig } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { HopMarker } from '../message/loop-marker.js';
import { PENDING_REAP_MS, type QueueStore } from '../mailqueue/store.js';
import type { MessageMeta, QueuedRecipient, UnitRecord } from '../mailqueue/types.js';
import type { StoredData } from '../mailqueue/body.js';
import type { LoadedUnit } from '../mailqueue/acceptance.js';
import { attemptDelivery, logAttempt } from './attempt.js';
import type { Original } from './compose.js';
import type { DsnRecipient } from './dsn.js';
import type { Signer } from './outbound.js';
import { NoticeDeferred, type Notifier } from './notices.js';
import { backoff, plan, type Outcome } from './outcome.js';
import type { Pool } from './pool.js';
import { noObserver, type Observer } from '../log/observer.js';
import { attemptEvent, dsnEvent, retryEvent } from '../trace/events.js';

export interface RunnerOptions {
  readonly concurrency: number;
  readonly leaseMs: number;
  readonly pollMs: number;
  readonly retryFirstMs: number;
  readonly retryMaxMs: number;
  readonly lifetimeMs: number;
  readonly delayWarningMs?: number;
}

export interface RunnerDeps {
  readonly store: QueueStore;
  readonly pool: Pool;
  readonly notifier: Notifier;
  readonly connectors: ReadonlyMap<string, ConnectorConfig>;
  readonly hopMarker: HopMarker;
  readonly logger: Logger;
  readonly options: RunnerOptions;
  /** DKIM signers by connector name. */
  readonly signers?: ReadonlyMap<string, Signer>;
  readonly observer?: Observer;
}

export interface Runner {
  start(): void;
  /** Stops claiming; waits up to `graceMs` for transactions in flight. */
  stop(graceMs: number): Promise<void>;
  /** Slots free for units this relay claims at acceptance. */
  freeSlots(): number;
  /** Delivers units already claimed for this runner (by the relay at acceptance), with their records when at hand. */
  adopt(uids: readonly string[], loaded?: readonly LoadedUnit[]): void;
  /** Units were queued that no runner claimed (slots were full): claim as soon as one frees. */
  queued(): void;
  wake(): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for `p`, at most `ms`; the timer never outlives the wait (it would hold the process). */
async function within(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

export function createRunner(deps: RunnerDeps): Runner {
  const { store, options, logger: log } = deps;
  const observer = deps.observer ?? noObserver;
  const inflight = new Set<string>();
  let running = false;
  let wakeUp: (() => void) | undefined;
  // Whether the shared queue may hold units due now (a full claim, a shard with more, units
  // queued unclaimed, a DSN): only then does a finished delivery claim at once, since a claim
  // reads every queue shard; retries and other relays' units wait for the poll (`pollMs`).
  let backlog = true;
  let queuedSeq = 0; // units queued unclaimed: a claim running meanwhile may have missed them
  let emptyRetried = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let reaper: NodeJS.Timeout | undefined;
  let loopDone: Promise<void> = Promise.resolve();
  const idle: (() => void)[] = [];

  const wake = (): void => {
    const w = wakeUp;
    wakeUp = undefined;
    w?.();
  };

  function launch(uid: string, loaded?: LoadedUnit): void {
    if (inflight.has(uid)) return;
    inflight.add(uid);
    void deliverUnit(uid, loaded)
      .catch((err: unknown) =>
        log.error(
          { event: 'SY_DELIVERY_ERROR', uid, err },
          'delivery attempt failed unexpectedly; the unit is retried when its lease ends',
        ),
      )
      .finally(() => {
        inflight.delete(uid);
        if (inflight.size === 0) for (const f of idle.splice(0)) f();
        if (backlog) wake();
      });
  }

  async function loop(): Promise<void> {
    while (running) {
      const free = options.concurrency - inflight.size;
      if (free > 0) {
        try {
          backlog = false; // set again below, or by what queues meanwhile
          const seq = queuedSeq;
          const { reclaimed, uids, more, failed } = await store.claim(Date.now(), options.leaseMs, free);
          if (reclaimed > 0) {
            log.warn({ event: 'SY_QUEUE_RECLAIMED', units: reclaimed }, 'took over deliveries whose relay stopped renewing its lease');
          }
          if (failed.length > 0) {
            log.warn(
              { event: 'SY_QUEUE_SHARD_UNAVAILABLE', shards: failed.map((f) => f.shard), err: failed[0]?.error },
              'cannot claim deliveries from some queue shards; the others are served',
            );
          }
          for (const uid of uids) launch(uid);
          if (uids.length === free || more || failed.length > 0) backlog = true;
          // claim again at once after a full claim, units queued during it, or a shard that
          // still has due units — also once after a round whose slots went to shards found
          // empty (the planner gives the next round's to the shards that reported work)
          const again = uids.length === free || seq !== queuedSeq || (more && (uids.length > 0 || !emptyRetried));
          emptyRetried = more && uids.length === 0;
          if (again) continue;
        } catch (err) {
          backlog = true;
          log.warn({ event: 'SY_QUEUE_UNAVAILABLE', err: String(err) }, 'cannot claim deliveries; retrying');
          await sleep(Math.min(1000, options.pollMs));
          continue;
        }
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, options.pollMs);
        wakeUp = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async function deliverUnit(uid: string, preloaded?: LoadedUnit): Promise<void> {
    const loaded = preloaded ?? (await store.load(uid));
    if (loaded === undefined) {
      await store.finish(uid);
      return;
    }
    const { unit, meta, data } = loaded;
    const original = originalOf(meta, data);
    const pending = unit.rcpts.filter((r) => r.pendingNotice !== undefined);
    const todo = unit.rcpts.filter((r) => r.pendingNotice === undefined);
    const outcomes = todo.length > 0 ? await attempt(unit, meta, original, todo) : [];
    await settle(unit, meta, original, outcomes, pending);
  }

  const originalOf = (meta: MessageMeta, data: StoredData): Original => ({
    size: meta.size,
    ...(meta.headerBytes !== undefined ? { headerBytes: meta.headerBytes } : {}),
    ...(data.legacy !== undefined ? { legacy: data.legacy } : {}),
    ...(data.chunks === 1 && data.first !== undefined ? { whole: data.first } : {}),
    open: () => store.open(meta.id, data),
  });

  const attempt = (unit: UnitRecord, meta: MessageMeta, original: Original, rcpts: readonly QueuedRecipient[]): Promise<Outcome[]> =>
    attemptDelivery(deps, log, unit, meta, original, rcpts);

  /** Queues one DSN; on failure the recipients stay queued with their notice pending. */
  async function sendNotice(
    meta: MessageMeta,
    original: Original,
    entries: DsnRecipient[],
    byFinal: Map<string, QueuedRecipient>,
  ): Promise<QueuedRecipient[]> {
    if (entries.length === 0) return [];
    try {
      await deps.notifier.notify(meta, original, entries);
      backlog = true; // the DSN is a unit in the shared queue
      observer.trace?.(dsnEvent(meta, entries));
      return [];
    } catch (err) {
      if (!(err instanceof NoticeDeferred))
        log.warn({ event: 'SY_DSN_FAILED', msg_id: meta.id, err: String(err) }, 'DSN not queued; kept for the next attempt');
      return entries.flatMap((e) => {
        const r = byFinal.get(e.final);
        return r ? [{ ...r, pendingNotice: e }] : [];
      });
    }
  }

  async function settle(
    unit: UnitRecord,
    meta: MessageMeta,
    original: Original,
    outcomes: readonly Outcome[],
    pending: readonly QueuedRecipient[],
  ): Promise<void> {
    const now = Date.now();
    const attempts = unit.attempts + 1;
    if (outcomes.length > 0) observer.trace?.(attemptEvent(meta, unit, outcomes, attempts));
    for (const o of outcomes) observer.delivery(o.kind === 'failed' ? 'bounced' : o.kind, unit.hop);
    logAttempt(log, meta, unit, outcomes, attempts);
    const p = plan({
      outcomes,
      now,
      arrived: meta.arrived,
      lifetimeMs: options.lifetimeMs,
      ...(options.delayWarningMs !== undefined ? { delayWarningMs: options.delayWarningMs } : {}),
      warned: unit.warned,
    });
    const byFinal = new Map(unit.rcpts.map((r) => [r.rcpt, r]));
    const stillPending: QueuedRecipient[] = [];
    // notices of earlier attempts first, grouped by kind
    for (const action of ['failed', 'relayed', 'delayed'] as const) {
      const earlier = pending.flatMap((r) => (r.pendingNotice?.action === action ? [r.pendingNotice] : []));
      const fresh = action === 'failed' ? p.failed : action === 'relayed' ? p.relayed : p.delayed;
      const unsent = await sendNotice(meta, original, [...earlier, ...fresh], byFinal);
      // a delay notice that could not be sent is simply skipped: the recipient is still queued
      if (action !== 'delayed') stillPending.push(...unsent);
    }
    // a DSN that still cannot be routed when its message's lifetime is over is given up (SPEC §5)
    const expired = now >= meta.arrived + options.lifetimeMs;
    if (expired && stillPending.length > 0) {
      log.warn(
        { event: 'SY_DSN_EXPIRED', msg_id: meta.id, uid: unit.uid, recipients: stillPending.map((r) => r.rcpt), sender: meta.from },
        'DSN given up: it could not be routed within the queue lifetime',
      );
    }
    const keep = [...p.keep, ...(expired ? [] : stillPending)];
    if (keep.length === 0) {
      await store.finish(unit.uid);
      return;
    }
    const due = now + backoff(attempts, options.retryFirstMs, options.retryMaxMs);
    observer.trace?.(retryEvent(meta, unit, keep, due));
    await store.retry(unit.uid, due, {
      rcpts: keep,
      attempts,
      ...(p.lastError !== undefined ? { lastError: p.lastError } : {}),
      warned: p.warned,
    });
  }

  return {
    start() {
      if (running) return;
      running = true;
      heartbeat = setInterval(
        () => {
          store
            .extend([...inflight], Date.now() + options.leaseMs)
            .catch((err: unknown) => log.warn({ event: 'SY_LEASE_RENEW_FAILED', err: String(err) }, 'could not renew delivery leases'));
        },
        Math.max(250, Math.floor(options.leaseMs / 3)),
      );
      heartbeat.unref();
      // pending messages whose relay died between the write and the commit (store.ts)
      reaper = setInterval(() => {
        store.reap(Date.now(), PENDING_REAP_MS).then(
          (n) => {
            if (n > 0) log.warn({ event: 'SY_QUEUE_REAPED', messages: n }, 'committed messages their relay left pending');
          },
          (err: unknown) => log.warn({ event: 'SY_QUEUE_REAP_FAILED', err: String(err) }, 'could not check for abandoned pending messages'),
        );
      }, 30_000);
      reaper.unref();
      loopDone = loop();
    },
    async stop(graceMs) {
      running = false;
      wake();
      // a claim waiting for an unreachable Redis must not hold the shutdown
      await within(loopDone, graceMs);
      if (inflight.size > 0) await within(new Promise<void>((r) => idle.push(r)), graceMs);
      if (heartbeat) clearInterval(heartbeat);
      if (reaper) clearInterval(reaper);
    },
    freeSlots: () => (running ? Math.max(0, options.concurrency - inflight.size) : 0),
    adopt(uids, loaded) {
      for (const uid of uids)
        launch(
          uid,
          loaded?.find((l) => l.unit.uid === uid),
        );
    },
    queued() {
      backlog = true;
      queuedSeq++;
      wake();
    },
    wake,
  };
}
