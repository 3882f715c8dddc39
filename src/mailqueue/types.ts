/** What the relay's mail queue holds: accepted messages and their delivery units. */
import type { Reason } from '../routing/decide.js';

export type DsnAction = 'failed' | 'delayed' | 'delivered' | 'relayed';

/** A recipient's outcome as a delivery status notification reports it (RFC 3464). */
export interface DsnRecipient {
  /** The recipient as the sender gave it (RCPT TO). */
  readonly orig: string;
  /** Where delivery was attempted (after a targetAddress rewrite). */
  readonly final: string;
  readonly orcpt?: string;
  readonly action: DsnAction;
  /** RFC 3463 status, e.g. 5.1.1. */
  readonly status: string;
  readonly remoteMta?: string;
  /** The next hop's reply, or our own reason, for Diagnostic-Code: smtp; … */
  readonly diagnostic?: string;
  readonly lastAttempt?: number;
  readonly willRetryUntil?: number;
}

export type Notify = 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY';

/** One envelope recipient as accepted, with its RFC 3461 parameters. */
export interface QueuedRecipient {
  /** Where it is delivered (the targetAddress after a rewrite, else as the sender wrote it). */
  readonly rcpt: string;
  /** As given in RCPT TO. */
  readonly orig: string;
  readonly notify?: readonly Notify[];
  /** ORCPT as received, `type;address` (xtext decoded). */
  readonly orcpt?: string;
  readonly reason: Reason;
  /** Outcome already known (bounced, relayed…) but its DSN could not be queued yet. */
  readonly pendingNotice?: DsnRecipient;
}

/** The envelope and trace data of one accepted message. */
export interface MessageMeta {
  readonly id: string;
  /** Envelope sender; '' for the null sender `<>`. */
  readonly from: string;
  readonly envid?: string;
  readonly ret?: 'FULL' | 'HDRS';
  readonly arrived: number;
  readonly clientIp: string;
  readonly helo: string;
  readonly size: number;
  readonly smtputf8: boolean;
  readonly eightBit: boolean;
  /** A DSN this relay generated (never bounced, never rewritten). */
  readonly dsn?: boolean;
  /** Bytes of the header block, our Received: line included (absent in messages of earlier releases). */
  readonly headerBytes?: number;
  /** DKIM relaxed body hash (sha256, base64) computed while DATA streamed in, when a connector signs. */
  readonly bodyHash?: string;
}

/** One message's recipients for one next hop: the unit a delivery attempt handles. */
export interface UnitRecord {
  readonly uid: string;
  readonly msg: string;
  readonly hop: string;
  readonly rcpts: readonly QueuedRecipient[];
  readonly attempts: number;
  readonly arrived: number;
  readonly from: string;
  readonly lastError?: string;
  readonly warned: boolean;
  readonly held: boolean;
  /** The envelope sender and From: this unit leaves with (outbound sender rewriting). */
  readonly sender?: string;
  /** A From: address other than the envelope sender's, rewritten to its object's primary address. */
  readonly headerRewrite?: { readonly from: string; readonly to: string };
}

export interface NewUnit {
  readonly hop: string;
  readonly rcpts: readonly QueuedRecipient[];
  readonly sender?: string;
  readonly headerRewrite?: { readonly from: string; readonly to: string };
}
