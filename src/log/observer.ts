/** What the relay and its deliveries report as they work (for metrics); no-ops by default. */
export type DeliveryOutcome = 'delivered' | 'deferred' | 'bounced';

export interface Observer {
  decision(reason: string, action: string, seconds: number): void;
  accepted(): void;
  delivery(outcome: DeliveryOutcome, hop: string): void;
  /** A MAIL refused with 452 4.3.1 because the queue budget was reached. */
  budgetRefused(): void;
}

export const noObserver: Observer = {
  decision: () => undefined,
  accepted: () => undefined,
  delivery: () => undefined,
  budgetRefused: () => undefined,
};
