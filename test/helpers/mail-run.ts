/**
 * A sending run for fault tests: messages 1..count over 10 concurrent clients, each sent
 * again (like a real MTA) until it gets 250; and what the sinks received of it by X-Seq.
 */
import { message, sendMail, type Sink } from './smtp.js';

export interface Run {
  readonly accepted: Set<number>;
  readonly done: Promise<void>;
}

export function sendRun(port: () => number, count: number, rcpts: readonly string[], first = 1): Run {
  const accepted = new Set<number>();
  let next = first;
  const last = first + count - 1;
  const client = async (): Promise<void> => {
    for (let n = next++; n <= last; n = next++) {
      for (;;) {
        try {
          const r = await sendMail({
            port: port(),
            from: 'sender@example.org',
            to: [rcpts[n % rcpts.length] ?? ''],
            body: message(`seq ${n}`, `X-Seq: ${n}\r\n`),
          });
          if (/^250/.test(r.response)) {
            accepted.add(n);
            break;
          }
        } catch {
          // connection refused / reset / 4xx: try again shortly
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  return { accepted, done: Promise.all(Array.from({ length: 10 }, client)).then(() => undefined) };
}

export function arrived(sinks: readonly Sink[]): { unique: Set<number>; total: number } {
  const unique = new Set<number>();
  let total = 0;
  for (const s of sinks) {
    for (const m of s.messages) {
      const seq = /^X-Seq: (\d+)\r$/m.exec(m.text)?.[1];
      if (seq) {
        unique.add(Number(seq));
        total++;
      }
    }
  }
  return { unique, total };
}

/** Waits until every expected message arrived (or the time is up): what is missing, how many duplicates. */
export async function allArrive(
  sinks: readonly Sink[],
  expected: ReadonlySet<number>,
  timeoutMs = 60_000,
): Promise<{ missing: number[]; duplicates: number }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { unique, total } = arrived(sinks);
    const missing = [...expected].filter((n) => !unique.has(n));
    if (missing.length === 0 || Date.now() > deadline) return { missing, duplicates: total - unique.size };
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function until(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 20));
  }
}
