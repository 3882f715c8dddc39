/**
 * Each session's transaction between MAIL and the end of DATA: its message id and the bytes
 * reserved for it in the queue budget (SPEC §5). MAIL reserves (trying a few shards, else
 * 452 4.3.1), DATA takes the transaction, anything else — RSET, a new MAIL, a disconnect —
 * gives the reservation back.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { Observer } from '../log/observer.js';
import type { QueueStore } from '../mailqueue/store.js';
import type { Transaction } from './data.js';

/** A Received: line is stored before the message: room is reserved for it too. */
const TRACE_ALLOWANCE = 1024;

export type BeginOutcome = 'reserved' | 'unreserved' | 'full' | 'gone';

export class Transactions {
  private readonly open = new Map<string, Transaction>();

  constructor(
    private readonly store: QueueStore,
    private readonly logger: Logger,
    private readonly observer: Observer,
  ) {}

  /**
   * Starts the session's transaction for a message of `size` bytes (SIZE=, else the maximum).
   * `unreserved`: Redis could not be asked, the transaction goes on (each RCPT then gets its own
   * 451, SPEC §4.6; the end of DATA checks the budget again). `gone`: the session closed meanwhile.
   */
  async begin(sessionId: string, rc: Config['relay'], size: number, stillOpen: () => boolean): Promise<BeginOutcome> {
    this.release(sessionId); // a MAIL after RSET or after a message: the last transaction is over
    const bytes = size + TRACE_ALLOWANCE;
    let txn: Transaction | undefined;
    try {
      txn = await this.reserve(rc, bytes);
    } catch (err) {
      this.logger.warn({ event: 'SY_QUEUE_RESERVE_FAILED', err: String(err) }, 'cannot reserve queue space; going on unreserved');
      if (stillOpen()) this.open.set(sessionId, { id: this.store.newId(), reserved: bytes });
      return 'unreserved';
    }
    if (txn === undefined) return 'full';
    if (!stillOpen()) {
      // the client left while the reservation was made: give it back at once
      this.store.abandon(txn.id).catch(() => undefined);
      return 'gone';
    }
    this.open.set(sessionId, txn);
    return 'reserved';
  }

  /** The transaction DATA queues (no longer released by this registry). */
  take(sessionId: string): Transaction | undefined {
    const txn = this.open.get(sessionId);
    this.open.delete(sessionId);
    return txn;
  }

  /** Ends a transaction that will not be queued: its reservation and any chunks go. */
  release(sessionId: string): void {
    const txn = this.take(sessionId);
    if (txn === undefined) return;
    this.store.abandon(txn.id).catch((err: unknown) => {
      this.logger.warn(
        { event: 'SY_QUEUE_RELEASE_FAILED', msg_id: txn.id, err: String(err) },
        'could not release a reservation; it expires',
      );
    });
  }

  private async reserve(rc: Config['relay'], bytes: number): Promise<Transaction | undefined> {
    if (rc.queueBudget <= 0) return { id: this.store.newId(), reserved: Number.MAX_SAFE_INTEGER };
    let used = 0;
    for (let i = 0; i < Math.min(3, this.store.shards); i++) {
      const id = this.store.newId();
      const r = await this.store.reserve(id, bytes, rc.queueBudget);
      if (r.granted) return { id, reserved: bytes };
      used = Math.max(used, r.used);
    }
    this.logger.warn({ event: 'SY_QUEUE_BUDGET', size: bytes, used, budget: rc.queueBudget }, 'queue budget reached; MAIL answered 452');
    this.observer.budgetRefused();
    return undefined;
  }
}
