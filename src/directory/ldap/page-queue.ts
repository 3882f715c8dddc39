/**
 * A bounded queue of pages between LDAP searches (producers) and the staging (one
 * consumer): the searches read ahead while the consumer waits on Redis, up to `max`
 * pages, then wait for room. The first failure ends the queue; `close` stops producers.
 */
export class PageQueue<T> {
  private readonly items: T[] = [];
  private failure: Error | undefined;
  private open: number;
  private closed = false;
  private consumer: (() => void) | undefined;
  private readonly producers: (() => void)[] = [];

  constructor(
    private readonly max: number,
    producers: number,
  ) {
    this.open = producers;
  }

  /** True once the consumer has gone (or a producer failed): producers stop reading. */
  get stopped(): boolean {
    return this.closed || this.failure !== undefined;
  }

  /** Adds a page; waits while the queue is full. */
  async push(item: T): Promise<void> {
    while (this.items.length >= this.max && !this.stopped) await new Promise<void>((r) => this.producers.push(r));
    if (this.stopped) return;
    this.items.push(item);
    this.wakeConsumer();
  }

  /** A producer is done (with `err`: failed, which ends the queue). */
  end(err?: unknown): void {
    this.open--;
    if (err !== undefined) this.failure ??= err instanceof Error ? err : new Error(`LDAP read failed: ${JSON.stringify(err)}`);
    this.wakeConsumer();
    if (this.failure !== undefined) this.wakeProducers();
  }

  close(): void {
    this.closed = true;
    this.wakeProducers();
  }

  async *drain(): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.failure !== undefined) throw this.failure;
        const item = this.items.shift();
        if (item !== undefined) {
          this.wakeProducers();
          yield item;
          continue;
        }
        if (this.open <= 0) return;
        await new Promise<void>((r) => (this.consumer = r));
      }
    } finally {
      this.close();
    }
  }

  private wakeConsumer(): void {
    const c = this.consumer;
    this.consumer = undefined;
    c?.();
  }

  private wakeProducers(): void {
    for (const p of this.producers.splice(0)) p();
  }
}
