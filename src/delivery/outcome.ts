/**
 * What one delivery attempt did to each recipient, and what the queue does next with it
 * (pure): delivered, bounced now (5xx), kept for a retry (4xx, no connection), or expired.
 */
import type { Notify, QueuedRecipient } from '../mailqueue/types.js';
import type { DsnRecipient } from './dsn.js';
import { statusFromReply } from './dsn.js';

export type Outcome =
  | {
      readonly kind: 'delivered';
      readonly rcpt: QueuedRecipient;
      readonly reply: string;
      readonly host: string;
      readonly dsnPassed: boolean;
    }
  | { readonly kind: 'failed'; readonly rcpt: QueuedRecipient; readonly reply: string; readonly status: string; readonly host?: string }
  | { readonly kind: 'deferred'; readonly rcpt: QueuedRecipient; readonly reply: string; readonly host?: string };

export const wants = (notify: readonly Notify[] | undefined, what: Notify): boolean =>
  notify === undefined ? what !== 'SUCCESS' : notify.includes(what);

export interface Plan {
  readonly failed: DsnRecipient[];
  readonly relayed: DsnRecipient[];
  readonly delayed: DsnRecipient[];
  /** Recipients that stay queued (deferred). */
  readonly keep: QueuedRecipient[];
  readonly lastError?: string;
  readonly warned: boolean;
}

export interface PlanInput {
  readonly outcomes: readonly Outcome[];
  readonly now: number;
  readonly arrived: number;
  readonly lifetimeMs: number;
  readonly delayWarningMs?: number;
  readonly warned: boolean;
}

function dsnEntry(
  r: QueuedRecipient,
  action: DsnRecipient['action'],
  status: string,
  reply: string | undefined,
  host: string | undefined,
  now: number,
  extra: Partial<DsnRecipient> = {},
): DsnRecipient {
  return {
    orig: r.orig,
    final: r.rcpt,
    ...(r.orcpt ? { orcpt: r.orcpt } : {}),
    action,
    status,
    ...(host ? { remoteMta: host } : {}),
    ...(reply ? { diagnostic: reply } : {}),
    lastAttempt: now,
    ...extra,
  };
}

export function plan(input: PlanInput): Plan {
  const { now } = input;
  const failed: DsnRecipient[] = [];
  const relayed: DsnRecipient[] = [];
  const delayed: DsnRecipient[] = [];
  const keep: QueuedRecipient[] = [];
  let lastError: string | undefined;
  const expired = now - input.arrived >= input.lifetimeMs;
  const warnNow = input.delayWarningMs !== undefined && !input.warned && now - input.arrived >= input.delayWarningMs;
  for (const o of input.outcomes) {
    const r = o.rcpt;
    if (o.kind === 'delivered') {
      if (wants(r.notify, 'SUCCESS') && !o.dsnPassed) relayed.push(dsnEntry(r, 'relayed', '2.0.0', o.reply, o.host, now));
    } else if (o.kind === 'failed') {
      if (wants(r.notify, 'FAILURE')) failed.push(dsnEntry(r, 'failed', o.status, o.reply, o.host, now));
    } else {
      lastError = o.reply;
      if (expired) {
        if (wants(r.notify, 'FAILURE'))
          failed.push(dsnEntry(r, 'failed', '5.4.7', `${o.reply} (gave up: message older than the queue lifetime)`, o.host, now));
        continue;
      }
      keep.push(r);
      if (warnNow && wants(r.notify, 'DELAY')) {
        delayed.push(
          dsnEntry(r, 'delayed', statusFromReply(o.reply, '4.4.7').replace(/^5/, '4'), o.reply, o.host, now, {
            willRetryUntil: input.arrived + input.lifetimeMs,
          }),
        );
      }
    }
  }
  return {
    failed,
    relayed,
    delayed,
    keep,
    ...(lastError !== undefined ? { lastError } : {}),
    warned: input.warned || (warnNow && keep.length > 0),
  };
}

/** Delay before attempt `attempts + 1`: first, doubling, capped, with ±10 % jitter. */
export function backoff(attempts: number, firstMs: number, maxMs: number, random = Math.random): number {
  const base = Math.min(maxMs, firstMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(base * (0.9 + 0.2 * random()));
}
