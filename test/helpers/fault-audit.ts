/**
 * Judges a fault test by what was acknowledged (SPEC §5), never by timing: every copy the
 * sinks received is matched to the attempt that sent it (X-Run, X-Seq, X-Attempt) and to
 * the queue id the relay stamped on it (its Received header).
 *
 * - every 250 arrives (lost: none), and its copies carry the queue id the 250 named;
 * - a 250 arrives once; a second copy (a duplicate) is allowed only where the test's
 *   fault allows it (a crash during delivery, a failover), and the test says which;
 * - a 4xx to the end of DATA is "not queued": such a copy is allowed only for a failover in
 *   the instant between the write and the reply;
 * - a message with no answer to its end of DATA may arrive, at most once;
 * - nothing that was never sent whole arrives (unsent, refused, unknown copies).
 */
import { appendFileSync } from 'node:fs';
import { expect } from 'vitest';
import { createQueueStore, DEFAULT_SHARDS } from '../../src/mailqueue/store.js';
import type { Keys } from '../../src/store/keys.js';
import type { RedisClient } from '../../src/store/redis.js';
import type { Attempt, Outcome, Run } from './mail-run.js';
import type { Sink } from './smtp.js';

export interface Copy {
  /** The EHLO name of the relay that delivered it. */
  readonly helo: string;
  readonly run?: string;
  readonly seq?: number;
  readonly attempt?: number;
  /** The relay that accepted it and the queue id it gave (its Received header). */
  readonly acceptedBy?: string;
  readonly queueId?: string;
}

/** A header's value from the header block (the first one of that name). */
function header(text: string, name: string): string | undefined {
  const end = text.search(/\r?\n\r?\n/);
  return new RegExp(`^${name}: *(.*?)\r?$`, 'mi').exec(end < 0 ? text : text.slice(0, end))?.[1];
}

export function copiesAt(sinks: readonly Sink[]): Copy[] {
  return sinks.flatMap((s) =>
    s.messages.map((m) => {
      const seq = header(m.text, 'X-Seq');
      const attempt = header(m.text, 'X-Attempt');
      const run = header(m.text, 'X-Run');
      const trace = /\tby (\S+) \(Switchyard\) with \S+ id ([^\s;]+)/.exec(m.text);
      return {
        helo: m.helo,
        ...(run !== undefined ? { run } : {}),
        ...(seq !== undefined ? { seq: Number(seq) } : {}),
        ...(attempt !== undefined ? { attempt: Number(attempt) } : {}),
        ...(trace?.[1] !== undefined ? { acceptedBy: trace[1] } : {}),
        ...(trace?.[2] !== undefined ? { queueId: trace[2] } : {}),
      };
    }),
  );
}

export interface Duplicate {
  readonly seq: number;
  readonly queueId: string;
  /** The EHLO names of the relays that delivered each copy. */
  readonly helos: readonly string[];
}

export interface LateCopy {
  readonly seq: number;
  readonly attempt: number;
  readonly reply?: string;
  readonly copies: number;
  readonly queueId?: string;
}

export interface Audit {
  /** Messages sent (distinct sequence numbers) and how many of them got a 250. */
  readonly messages: number;
  readonly accepted: number;
  readonly attempts: Readonly<Record<Outcome, number>>;
  /** Copies the sinks received of these runs. */
  readonly copies: number;
  /** 250s that never arrived ("seq N queued as Q"). */
  readonly lost: readonly string[];
  /** 250s delivered more than once. */
  readonly duplicates: readonly Duplicate[];
  /** Copies of attempts answered 4xx after the whole message. */
  readonly notQueuedArrived: readonly LateCopy[];
  /** Copies of attempts that got no answer after the whole message. */
  readonly noAnswerArrived: readonly LateCopy[];
  /** Copies nothing explains: never sent whole, refused, not of these runs, or another queue id than their 250 named. */
  readonly unexpected: readonly string[];
}

/** Extra copies of a message whose sender got one 250 for it: duplicates plus late copies. */
export const extraCopies = (a: Audit): number =>
  a.duplicates.reduce((n, d) => n + d.helos.length - 1, 0) +
  a.notQueuedArrived.reduce((n, l) => n + l.copies, 0) +
  a.noAnswerArrived.reduce((n, l) => n + l.copies, 0);

export function audit(runs: readonly Run[], sinks: readonly Sink[]): Audit {
  const byKey = new Map<string, Attempt>();
  for (const r of runs) for (const a of r.attempts) byKey.set(`${a.run}/${a.seq}/${a.attempt}`, a);
  const copiesOf = new Map<string, Copy[]>();
  const unexpected: string[] = [];
  let copies = 0;
  for (const c of copiesAt(sinks)) {
    const a = byKey.get(`${c.run}/${c.seq}/${c.attempt}`);
    if (a === undefined) {
      // another run's mail on shared sinks is not ours to judge; a copy of no run is
      if (c.run === undefined || runs.some((r) => r.id === c.run)) unexpected.push(`a copy of no attempt: ${JSON.stringify(c)}`);
      continue;
    }
    copies++;
    if (a.outcome === 'unsent' || a.outcome === 'refused')
      unexpected.push(
        `seq ${a.seq} attempt ${a.attempt} arrived, but its end of DATA was never sent (${a.outcome}: ${a.reply ?? a.error})`,
      );
    else if (a.outcome === 'accepted' && c.queueId !== a.queueId)
      unexpected.push(`seq ${a.seq} arrived as queue id ${c.queueId}, but its 250 named ${a.queueId}`);
    const key = `${a.run}/${a.seq}/${a.attempt}`;
    copiesOf.set(key, [...(copiesOf.get(key) ?? []), c]);
  }
  const lost: string[] = [];
  const duplicates: Duplicate[] = [];
  const notQueuedArrived: LateCopy[] = [];
  const noAnswerArrived: LateCopy[] = [];
  const attempts: Record<Outcome, number> = { accepted: 0, 'not-queued': 0, refused: 0, unsent: 0, 'no-answer': 0 };
  let messages = 0;
  for (const r of runs) {
    messages += new Set(r.attempts.map((a) => a.seq)).size;
    for (const a of r.attempts) {
      attempts[a.outcome]++;
      const got = copiesOf.get(`${a.run}/${a.seq}/${a.attempt}`) ?? [];
      if (a.outcome === 'accepted' && got.length === 0) lost.push(`seq ${a.seq} queued as ${a.queueId}`);
      if (a.outcome === 'accepted' && got.length > 1)
        duplicates.push({ seq: a.seq, queueId: a.queueId ?? '', helos: got.map((c) => c.helo) });
      const late = { seq: a.seq, attempt: a.attempt, copies: got.length, ...(a.reply ? { reply: a.reply } : {}) };
      const queueId = got[0]?.queueId;
      if (a.outcome === 'not-queued' && got.length > 0) notQueuedArrived.push({ ...late, ...(queueId ? { queueId } : {}) });
      if (a.outcome === 'no-answer' && got.length > 0) noAnswerArrived.push({ ...late, ...(queueId ? { queueId } : {}) });
    }
  }
  const accepted = runs.reduce((n, r) => n + r.accepted.size, 0);
  return { messages, accepted, attempts, copies, lost, duplicates, notQueuedArrived, noAnswerArrived, unexpected };
}

export interface SettleOptions {
  /** True once the relay has no delivery work left (no unit ready, active or held): no copy can come after. */
  readonly drained: () => Promise<boolean>;
  readonly timeoutMs?: number;
}

export interface Settled extends Audit {
  /** The queue had no delivery work left when the copies were counted (false: the time ran out). */
  readonly drained: boolean;
}

/**
 * Waits for the runs to finish, then until every 250 arrived and the queue is drained (or
 * the time is up: what is missing is then in `lost`), and judges what the sinks hold.
 */
export async function settle(runs: readonly Run[], sinks: readonly Sink[], o: SettleOptions): Promise<Settled> {
  await Promise.all(runs.map((r) => r.done));
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  for (;;) {
    const a = audit(runs, sinks);
    const drained = a.lost.length === 0 && (await o.drained().catch(() => false));
    // counted again once drained: a copy may have come in while the queue was read
    if (drained) return { ...audit(runs, sinks), drained };
    if (Date.now() > deadline) return { ...a, drained };
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The queue has no unit ready, active or held (pending messages, never committed, are not delivery work). */
export function queueDrained(redis: RedisClient, keys: Keys, shards = DEFAULT_SHARDS): () => Promise<boolean> {
  const store = createQueueStore(redis, keys, { shards });
  return async () => {
    const d = await store.depth();
    return d.ready + d.active + d.held === 0;
  };
}

/** Messages written pending and never committed or cancelled (the reaper commits them after PENDING_REAP_MS). */
export async function pendingLeft(redis: RedisClient, keys: Keys, shards = DEFAULT_SHARDS): Promise<number> {
  const counts = await Promise.all(Array.from({ length: shards }, (_, k) => redis.zcard(keys.mqShard(k).pending)));
  return counts.reduce((n, c) => n + c, 0);
}

export interface PendingMessage {
  readonly queueId: string;
  readonly seq?: number;
  readonly attempt?: number;
  /** What the sender of the attempt that wrote it was told. */
  readonly outcome?: Outcome;
  readonly reply?: string;
}

/**
 * The pending messages, each matched to the attempt that wrote it: one left pending by a
 * relay that answered 4xx becomes a delivery of a 4xx'd message when the reaper commits it.
 */
export async function pendingMessages(
  runs: readonly Run[],
  redis: RedisClient,
  keys: Keys,
  shards = DEFAULT_SHARDS,
): Promise<PendingMessage[]> {
  const found = await Promise.all(
    Array.from({ length: shards }, async (_, k) => {
      const shard = keys.mqShard(k);
      const ids = await redis.zrange(shard.pending, 0, -1);
      return Promise.all(ids.map(async (id) => ({ id, head: (await redis.hgetBuffer(shard.data(id), '0'))?.toString('utf8') ?? '' })));
    }),
  );
  return found.flat().map(({ id, head }) => {
    const [run, seq, attempt] = ['X-Run', 'X-Seq', 'X-Attempt'].map((h) => header(head, h));
    const a = runs.flatMap((r) => r.attempts).find((x) => x.run === run && String(x.seq) === seq && String(x.attempt) === attempt);
    return {
      queueId: id,
      ...(seq !== undefined ? { seq: Number(seq) } : {}),
      ...(attempt !== undefined ? { attempt: Number(attempt) } : {}),
      ...(a ? { outcome: a.outcome } : {}),
      ...(a?.reply !== undefined || a?.error !== undefined ? { reply: a.reply ?? a.error } : {}),
    };
  });
}

/** One line for the log, and one JSON line in $FAULT_REPORT for the soak runner (test/soak/run.ts). */
export function report(label: string, a: Audit, extra: Record<string, number | string> = {}): void {
  const details = Object.entries(extra)
    .filter(([, v]) => v !== '')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  console.log(
    `${label}: ${a.accepted} of ${a.messages} accepted (other attempts: ${a.attempts['not-queued']} not queued (4xx), ` +
      `${a.attempts['no-answer']} unanswered, ${a.attempts.unsent} unsent, ${a.attempts.refused} refused); ${a.copies} copies delivered: ` +
      `lost ${a.lost.length}, duplicates ${extraCopies(a)} (250 delivered twice ${a.duplicates.length}, ` +
      `4xx delivered ${a.notQueuedArrived.length}, unanswered delivered ${a.noAnswerArrived.length}), unexpected ${a.unexpected.length}` +
      (details ? `; ${details}` : ''),
  );
  const file = process.env.FAULT_REPORT;
  if (file === undefined || file === '') return;
  const test = expect.getState().currentTestName ?? label;
  appendFileSync(
    file,
    `${JSON.stringify({
      test,
      label,
      messages: a.messages,
      accepted: a.accepted,
      attempts: a.attempts,
      copies: a.copies,
      lost: a.lost.length,
      duplicates: extraCopies(a),
      notQueuedArrived: a.notQueuedArrived.length,
      noAnswerArrived: a.noAnswerArrived.length,
      unexpected: a.unexpected.length,
      ...extra,
    })}\n`,
  );
}
