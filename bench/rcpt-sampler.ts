/**
 * B4's client (bench/rcpt-latency.ts, bench/chain-floor.ts): SESSIONS SMTP sessions that send
 * RCPT TO and time each reply, back to back or at a fixed rate, and the percentiles of the
 * times.
 */
import { connect, type Socket } from 'node:net';

export const SESSIONS = 4;

/** One SMTP session that times RCPT round trips. */
class Session {
  private buf = '';
  private waiter: ((line: string) => void) | undefined;
  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.setNoDelay(true);
    socket.on('data', (d: string) => {
      this.buf += d;
      for (;;) {
        const m = /^(\d{3}) [^\r\n]*\r\n/m.exec(this.buf);
        if (!m) break;
        this.buf = this.buf.slice(m.index + m[0].length);
        const w = this.waiter;
        this.waiter = undefined;
        w?.(m[0].trimEnd());
      }
    });
  }

  static async open(port: number): Promise<Session> {
    const s = new Session(connect({ host: '127.0.0.1', port }));
    await s.reply();
    await s.cmd('EHLO bench.example.org');
    return s;
  }

  reply(): Promise<string> {
    return new Promise((r) => (this.waiter = r));
  }

  cmd(line: string): Promise<string> {
    const p = this.reply();
    this.socket.write(`${line}\r\n`);
    return p;
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface Sample {
  readonly latenciesMs: number[];
  readonly refused: Map<string, number>;
}

/**
 * RCPTs from SESSIONS sessions until `until()`. Closed loop (`rate` 0): back to back, as
 * fast as the relay answers. Open loop: `rate` RCPTs per second in all, each timed from
 * when it was due, so a stall also counts for the RCPTs that queue up behind it.
 */
export async function sample(port: number, address: () => string, until: () => boolean, rate = 0): Promise<Sample> {
  const latenciesMs: number[] = [];
  const refused = new Map<string, number>();
  const intervalMs = rate > 0 ? (1000 * SESSIONS) / rate : 0;
  await Promise.all(
    Array.from({ length: SESSIONS }, async (_, n) => {
      const s = await Session.open(port);
      let inTx = 0;
      let due = performance.now() + (intervalMs * n) / SESSIONS;
      while (!until()) {
        if (inTx === 0) await s.cmd('MAIL FROM:<bench@example.org>');
        const line = `RCPT TO:<${address()}>`;
        let t = performance.now();
        if (intervalMs > 0) {
          // on time: wait for the slot and time from the send (timer slop is not the relay's);
          // behind (a slow reply): time from the slot, so the stall counts for this RCPT too
          if (t < due) {
            await new Promise((r) => setTimeout(r, due - t));
            t = performance.now();
          } else t = due;
          due += intervalMs;
        }
        const r = await s.cmd(line);
        latenciesMs.push(performance.now() - t);
        if (!r.startsWith('250')) refused.set(r, (refused.get(r) ?? 0) + 1);
        if (++inTx >= 400) {
          await s.cmd('RSET');
          inTx = 0;
        }
      }
      s.close();
    }),
  );
  return { latenciesMs, refused };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function stats(values: number[]): { p50: number; p99: number; text: string } {
  const sorted = [...values].sort((a, b) => a - b);
  const p50 = pct(sorted, 50);
  const p99 = pct(sorted, 99);
  return {
    p50,
    p99,
    text: `p50 ${p50.toFixed(3)} ms, p99 ${p99.toFixed(3)} ms, p99.9 ${pct(sorted, 99.9).toFixed(3)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(2)} ms`,
  };
}
