/**
 * Trace events (SPEC §11) from what the hook points hold: each builder is called in ONE line
 * at its hook (`observer.trace?.(rcptEvent(session, d))`), so the hooks stay easy to move.
 */
import type { SMTPServerSession } from 'smtp-server';
import type { TraceEvent } from '../log/observer.js';
import type { DsnRecipient, MessageMeta, QueuedRecipient, UnitRecord } from '../mailqueue/types.js';
import type { Decision } from '../routing/decide.js';
import { renderReply } from '../routing/replies.js';

type Of<K extends TraceEvent['kind']> = Extract<TraceEvent, { kind: K }>;

/** A RCPT TO decision, routed or refused. */
export function rcptEvent(session: SMTPServerSession, d: Decision): Of<'rcpt'> {
  return {
    kind: 'rcpt',
    at: Date.now(),
    session: session.id,
    rcpt: d.address,
    action: d.action,
    reason: d.reason,
    reply: renderReply(d.reply),
    ...(d.connector !== undefined && d.action === 'route' ? { hop: d.connector } : {}),
    ...(d.recipient !== undefined && d.recipient !== d.address ? { recipient: d.recipient } : {}),
  };
}

/** The Message-ID header of a raw message (its header block only), without angle brackets. */
export function messageIdOf(raw: Buffer): string | undefined {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? Math.min(raw.length, 65_536) : end).toString('latin1');
  const m = /(?:^|\n)message-id:[ \t]*(?:\r?\n[ \t]+)?<?([^\s<>]+)>?/i.exec(head);
  return m?.[1];
}

/** A message accepted at end of DATA: the session's facts and where each recipient goes. */
export function receivedEvent(
  session: SMTPServerSession,
  id: string,
  /** The start of the message's header block, and its stored size (the message itself is in Redis). */
  message: { readonly head: Buffer; readonly size: number },
  routed: readonly { readonly orig: string; readonly rcpt: string; readonly hop: string }[],
): Of<'received'> {
  const messageId = messageIdOf(message.head);
  const user = typeof session.user === 'string' ? session.user : undefined;
  return {
    kind: 'received',
    at: Date.now(),
    session: session.id,
    id,
    ...(messageId !== undefined ? { messageId } : {}),
    from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
    client: session.remoteAddress,
    helo: session.hostNameAppearsAs || '',
    tls: session.secure,
    ...(user !== undefined ? { user } : {}),
    size: message.size,
    rcpts: routed.map((r) => ({ orig: r.orig, rcpt: r.rcpt, hop: r.hop })),
  };
}

/** The session closed: RCPT refusals of transactions that never reached DATA are written as its own record. */
export function sessionEndEvent(session: SMTPServerSession): Of<'session-end'> {
  return { kind: 'session-end', at: Date.now(), session: session.id, client: session.remoteAddress, helo: session.hostNameAppearsAs || '' };
}

/** What a delivery attempt gave each recipient (the runner's outcomes, structurally). */
export interface AttemptResult {
  readonly kind: string;
  readonly rcpt: Pick<QueuedRecipient, 'rcpt'>;
  readonly reply: string;
  readonly host?: string;
}

export function attemptEvent(meta: MessageMeta, unit: UnitRecord, outcomes: readonly AttemptResult[], attempt: number): Of<'attempt'> {
  return {
    kind: 'attempt',
    at: Date.now(),
    id: meta.id,
    uid: unit.uid,
    hop: unit.hop,
    attempt,
    results: outcomes.map((o) => ({
      rcpt: o.rcpt.rcpt,
      outcome: o.kind === 'failed' ? 'bounced' : o.kind,
      reply: o.reply,
      ...(o.host !== undefined ? { host: o.host } : {}),
    })),
  };
}

/** Recipients kept in the queue after an attempt, and when they are tried next. */
export function retryEvent(meta: MessageMeta, unit: UnitRecord, keep: readonly QueuedRecipient[], due: number): Of<'retry'> {
  return { kind: 'retry', at: Date.now(), id: meta.id, uid: unit.uid, hop: unit.hop, rcpts: keep.map((r) => r.rcpt), due };
}

/** A DSN queued for the sender. */
export function dsnEvent(meta: MessageMeta, entries: readonly DsnRecipient[]): Of<'dsn'> {
  const actions = [...new Set(entries.map((e) => e.action))].join(',');
  return { kind: 'dsn', at: Date.now(), id: meta.id, action: actions, rcpts: entries.map((e) => e.final) };
}

/** An operator's queue hold, release, retry or delete of one unit. */
export function operatorEvent(entry: Pick<UnitRecord, 'uid' | 'msg'>, action: string, who: string, ok: boolean): Of<'operator'> {
  return { kind: 'operator', at: Date.now(), id: entry.msg, uid: entry.uid, action, who, ok };
}
