/** What the relay and its deliveries report as they work (for metrics and message trace); no-ops by default. */
export type DeliveryOutcome = 'delivered' | 'deferred' | 'bounced';

/**
 * One step of a message's life for message trace (SPEC §11), built by src/trace/events.ts
 * at the hook points (relay RCPT and acceptance, delivery settle, DSNs, queue operations).
 * `at` is epoch ms. A refusal at RCPT belongs to its SMTP session until a message is accepted.
 */
export type TraceEvent =
  | {
      readonly kind: 'rcpt';
      readonly at: number;
      readonly session: string;
      readonly rcpt: string;
      readonly action: string;
      readonly reason: string;
      readonly reply: string;
      readonly hop?: string;
      readonly recipient?: string;
    }
  | {
      readonly kind: 'received';
      readonly at: number;
      readonly session: string;
      readonly id: string;
      readonly messageId?: string;
      readonly from: string;
      readonly client: string;
      readonly helo: string;
      readonly tls: boolean;
      readonly user?: string;
      readonly size: number;
      readonly rcpts: readonly { readonly orig: string; readonly rcpt: string; readonly hop: string }[];
    }
  | { readonly kind: 'session-end'; readonly at: number; readonly session: string; readonly client: string; readonly helo: string }
  | {
      readonly kind: 'attempt';
      readonly at: number;
      readonly id: string;
      readonly uid: string;
      readonly hop: string;
      readonly attempt: number;
      readonly results: readonly { readonly rcpt: string; readonly outcome: string; readonly reply: string; readonly host?: string }[];
    }
  | {
      readonly kind: 'retry';
      readonly at: number;
      readonly id: string;
      readonly uid: string;
      readonly hop: string;
      readonly rcpts: readonly string[];
      readonly due: number;
    }
  | { readonly kind: 'dsn'; readonly at: number; readonly id: string; readonly action: string; readonly rcpts: readonly string[] }
  | {
      readonly kind: 'operator';
      readonly at: number;
      readonly id: string;
      readonly uid: string;
      readonly action: string;
      readonly who: string;
      readonly ok: boolean;
    };

export interface Observer {
  decision(reason: string, action: string, seconds: number): void;
  accepted(): void;
  delivery(outcome: DeliveryOutcome, hop: string): void;
  /** A MAIL refused with 452 4.3.1 because the queue budget was reached. */
  budgetRefused(): void;
  /** Message trace; only the trace writer (src/trace/writer.ts) records these. Never blocks. */
  trace?(event: TraceEvent): void;
}

export const noObserver: Observer = {
  decision: () => undefined,
  accepted: () => undefined,
  delivery: () => undefined,
  budgetRefused: () => undefined,
};
