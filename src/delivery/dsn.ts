/**
 * Delivery status notifications (RFC 3464 multipart/report, RFC 3461 semantics), built as
 * a complete message from `<>`. Pure: the caller routes and queues it.
 */
import { randomBytes } from 'node:crypto';
import type { DsnAction, DsnRecipient } from '../mailqueue/types.js';
import { headerEnd, rfc5322Date } from '../message/headers.js';

export type { DsnAction, DsnRecipient } from '../mailqueue/types.js';

export interface DsnHeaderInput {
  readonly reportingMta: string;
  readonly sender: string;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly arrived: number;
  readonly queueId: string;
  readonly recipients: readonly DsnRecipient[];
  readonly now: number;
}

export interface DsnInput extends DsnHeaderInput {
  readonly original: Buffer;
}

/** A DSN around the original message (or its header block), which the caller streams in between. */
export interface DsnParts {
  readonly messageId: string;
  /** Everything before the returned content. */
  readonly head: string;
  /** The whole original is returned (message/rfc822); otherwise only its header block. */
  readonly returnFull: boolean;
  /** Everything after it; `endsWithLf` says whether the returned content ended with a line break. */
  tail(endsWithLf: boolean): string;
}

const SUBJECT: Record<DsnAction, string> = {
  failed: 'Undelivered Mail Returned to Sender',
  delayed: 'Delayed Mail (still being retried)',
  delivered: 'Successful Mail Delivery Report',
  relayed: 'Successful Mail Delivery Report (relayed)',
};

const EXPLAIN: Record<DsnAction, string> = {
  failed: 'Your message could not be delivered to one or more recipients. It is attached below.\r\nThe mail system reported:',
  delayed:
    'Delivery of your message is delayed. The mail system will keep trying until\r\nthe time shown below; you need not send it again.',
  delivered: 'Your message was delivered to the recipients below.',
  relayed:
    "Your message was passed on to the recipients' mail system, which does not\r\nreport delivery status; no further notification will come from there.",
};

/** Statuses are digits and dots only; a reply's text is kept on one line, 7-bit. */
const oneLine = (s: string): string =>
  s
    .replace(/[\r\n]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();

/** `Diagnostic-Code: smtp; 550 5.1.1 …` from a reply or our own explanation. */
export function statusFromReply(reply: string, fallback: string): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply.trim());
  return m?.[1] ?? fallback;
}

function recipientFields(r: DsnRecipient): string {
  const lines: string[] = [];
  if (r.orcpt) lines.push(`Original-Recipient: ${oneLine(r.orcpt)}`);
  else lines.push(`Original-Recipient: rfc822;${oneLine(r.orig)}`);
  lines.push(`Final-Recipient: rfc822;${oneLine(r.final)}`);
  lines.push(`Action: ${r.action}`);
  lines.push(`Status: ${r.status}`);
  if (r.remoteMta) lines.push(`Remote-MTA: dns;${oneLine(r.remoteMta)}`);
  if (r.diagnostic) lines.push(`Diagnostic-Code: smtp;${oneLine(r.diagnostic)}`);
  if (r.lastAttempt) lines.push(`Last-Attempt-Date: ${rfc5322Date(new Date(r.lastAttempt))}`);
  if (r.willRetryUntil) lines.push(`Will-Retry-Until: ${rfc5322Date(new Date(r.willRetryUntil))}`);
  return lines.join('\r\n');
}

export function dsnParts(input: DsnHeaderInput): DsnParts {
  const action = input.recipients[0]?.action ?? 'failed';
  const boundary = `=_sy_${randomBytes(9).toString('hex')}`;
  const messageId = `<${input.queueId}.${randomBytes(4).toString('hex')}@${input.reportingMta}>`;
  const human = [
    EXPLAIN[action],
    '',
    ...input.recipients.map(
      (r) =>
        `<${oneLine(r.orig)}>${r.final !== r.orig ? ` (delivered as <${oneLine(r.final)}>)` : ''}: ${oneLine(r.diagnostic ?? r.status)}`,
    ),
  ].join('\r\n');
  const perMessage = [
    `Reporting-MTA: dns;${input.reportingMta}`,
    `X-Switchyard-Queue-ID: ${input.queueId}`,
    ...(input.envid ? [`Original-Envelope-Id: ${oneLine(input.envid)}`] : []),
    `Arrival-Date: ${rfc5322Date(new Date(input.arrived))}`,
  ].join('\r\n');
  const returnFull = input.ret === 'FULL' && action === 'failed';
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${input.reportingMta}>`,
    `To: <${input.sender}>`,
    `Subject: ${SUBJECT[action]}`,
    `Date: ${rfc5322Date(new Date(input.now))}`,
    `Message-ID: ${messageId}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Description: Notification',
    '',
    human,
    '',
    `--${boundary}`,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    perMessage,
    '',
    input.recipients.map(recipientFields).join('\r\n\r\n'),
    '',
    `--${boundary}`,
    `Content-Type: ${returnFull ? 'message/rfc822' : 'text/rfc822-headers'}`,
    `Content-Description: ${returnFull ? 'Undelivered message' : 'Message headers'}`,
    '',
    '',
  ].join('\r\n');
  return { messageId, head, returnFull, tail: (endsWithLf) => `${endsWithLf ? '' : '\r\n'}\r\n--${boundary}--\r\n` };
}

/** A whole DSN from an original held in memory (tests and small messages). */
export function buildDsn(input: DsnInput): { messageId: string; body: Buffer } {
  const parts = dsnParts(input);
  const original = parts.returnFull ? input.original : input.original.subarray(0, headerEnd(input.original));
  const endsWithLf = original.length === 0 || original[original.length - 1] === 0x0a;
  return {
    messageId: parts.messageId,
    body: Buffer.concat([Buffer.from(parts.head, 'utf8'), original, Buffer.from(parts.tail(endsWithLf), 'utf8')]),
  };
}
