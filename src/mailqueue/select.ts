/** Which queued units an operator command applies to: by id, recipient or next hop (pure). */
import type { QueueEntry } from './store.js';

export interface Selector {
  /** Message ids (every unit of the message) or unit ids (`<message>.<n>`). */
  readonly ids?: readonly string[];
  /** A recipient, as delivered or as the sender wrote it; case-insensitive. */
  readonly recipient?: string;
  /** A next hop (connector name). */
  readonly hop?: string;
}

export function isEmptySelector(s: Selector): boolean {
  return (s.ids === undefined || s.ids.length === 0) && s.recipient === undefined && s.hop === undefined;
}

export function selectEntries(entries: readonly QueueEntry[], s: Selector): QueueEntry[] {
  const ids = s.ids && s.ids.length > 0 ? new Set(s.ids.map((i) => i.toUpperCase())) : undefined;
  const rcpt = s.recipient?.toLowerCase();
  return entries.filter(
    (e) =>
      (ids === undefined || ids.has(e.uid.toUpperCase()) || ids.has(e.msg.toUpperCase())) &&
      (s.hop === undefined || e.hop === s.hop) &&
      (rcpt === undefined || e.rcpts.some((r) => r.rcpt.toLowerCase() === rcpt || r.orig.toLowerCase() === rcpt)),
  );
}
