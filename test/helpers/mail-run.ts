/**
 * A sending run for fault tests: messages first..first+count-1 over concurrent clients,
 * each sent again (like a real MTA) until it gets a 250 or a 5xx. Every attempt is
 * recorded with what it was told — the queue id of a 250, the 4xx that said "not queued",
 * or that no answer came after the whole message was sent — so a test judges the relay by
 * what it acknowledged (fault-audit.ts), never by when.
 *
 * Every message names its run, sequence number and attempt (X-Run, X-Seq, X-Attempt); its
 * Message-ID stays the same across attempts, as an MTA's resend does.
 */
import { randomBytes } from 'node:crypto';
import { transact, type Stage } from './smtp-attempt.js';

/**
 * - accepted: 250 to the end of DATA (queued, with its queue id)
 * - not-queued: 4xx to the end of DATA (the relay says it did not queue it)
 * - refused: 5xx at any stage
 * - unsent: the end of DATA was never sent (connection refused or lost, or a 4xx before it)
 * - no-answer: the whole message was sent and no reply came (the sender cannot know)
 */
export type Outcome = 'accepted' | 'not-queued' | 'refused' | 'unsent' | 'no-answer';

export interface Attempt {
  readonly run: string;
  readonly seq: number;
  /** 1 for the first try of a message, 2 for its resend, … */
  readonly attempt: number;
  readonly outcome: Outcome;
  readonly stage: Stage;
  readonly reply?: string;
  readonly error?: string;
  /** From "250 … queued as ID". */
  readonly queueId?: string;
}

export interface Run {
  readonly id: string;
  /** Every attempt in the order its outcome was known. */
  readonly attempts: readonly Attempt[];
  /** seq → queue id of the 250 it got. */
  readonly accepted: ReadonlyMap<number, string>;
  readonly done: Promise<void>;
  /** Attempts with this outcome so far (from `since`, an index into `attempts`). */
  count(outcome: Outcome, since?: number): number;
}

export interface RunOptions {
  /** First sequence number (default 1): runs sharing sinks use distinct ranges. */
  readonly first?: number;
  /** Concurrent clients (default 10). */
  readonly clients?: number;
  /** Pause before a resend (default 50 ms). */
  readonly retryMs?: number;
}

export function outcomeOf(r: { dotSent: boolean; reply?: string }): Outcome {
  const code = r.reply === undefined ? 0 : Number(r.reply.slice(0, 3));
  if (code >= 500) return 'refused';
  if (!r.dotSent) return 'unsent';
  if (code === 0) return 'no-answer';
  return code < 300 ? 'accepted' : 'not-queued';
}

export function faultMessage(run: string, seq: number, attempt: number, rcpt: string): string {
  return [
    'From: <sender@example.org>',
    `To: <${rcpt}>`,
    `Subject: seq ${seq}`,
    `Message-ID: <seq-${seq}.${run}@example.org>`,
    `X-Run: ${run}`,
    `X-Seq: ${seq}`,
    `X-Attempt: ${attempt}`,
    '',
    'Hello.',
    '',
  ].join('\r\n');
}

export function sendRun(port: () => number, count: number, rcpts: readonly string[], o: RunOptions = {}): Run {
  const id = randomBytes(4).toString('hex');
  const attempts: Attempt[] = [];
  const accepted = new Map<number, string>();
  const first = o.first ?? 1;
  const last = first + count - 1;
  let next = first;
  const client = async (): Promise<void> => {
    for (let seq = next++; seq <= last; seq = next++) {
      const rcpt = rcpts[seq % rcpts.length] ?? '';
      for (let attempt = 1; ; attempt++) {
        const r = await transact({
          port: port(),
          from: 'sender@example.org',
          to: [rcpt],
          data: faultMessage(id, seq, attempt, rcpt),
        });
        const outcome = outcomeOf(r);
        const queueId = outcome === 'accepted' ? /queued as (\S+)/.exec(r.reply ?? '')?.[1] : undefined;
        attempts.push({
          run: id,
          seq,
          attempt,
          outcome,
          stage: r.stage,
          ...(r.reply !== undefined ? { reply: r.reply } : {}),
          ...(r.error !== undefined ? { error: r.error } : {}),
          ...(queueId !== undefined ? { queueId } : {}),
        });
        if (outcome === 'accepted') accepted.set(seq, queueId ?? '(no queue id in the reply)');
        if (outcome === 'accepted' || outcome === 'refused') break;
        await new Promise((res) => setTimeout(res, o.retryMs ?? 50));
      }
    }
  };
  return {
    id,
    attempts,
    accepted,
    done: Promise.all(Array.from({ length: o.clients ?? 10 }, client)).then(() => undefined),
    count: (outcome, since = 0) => attempts.slice(since).filter((a) => a.outcome === outcome).length,
  };
}

/** Polls `cond` until it holds; throws naming `what` after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 30_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
