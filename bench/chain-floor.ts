/**
 * B4's floor on this machine: the same client (bench/rcpt-sampler.ts) against a minimal server
 * that answers each line after one Redis round trip (a GET) from a process of its own. That is
 * the relay's shape — client, server and Redis in three processes on the shared cores, four
 * wake-ups a decision — without any of its work. The server times each line as the relay
 * times a decision (from the parsed line to Redis's answer), so its p99 is about the lowest
 * a decision that asks Redis can show here at that moment. Measured idle (back to back and at
 * the bench's rate) and at that rate beside a busy process (one core taken, as a re-import
 * takes at least one).
 *
 *   node dist/bench/chain-floor.js serve REDIS_URL   (the server; chainFloor forks it)
 */
import { fork, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { sample, stats } from './rcpt-sampler.js';

function serve(redisUrl: string): void {
  const redis = new Redis(redisUrl);
  let times: number[] = [];
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.write('220 floor\r\n');
    let buf = '';
    socket.on('data', (d: string) => {
      buf += d;
      for (let end = buf.indexOf('\r\n'); end >= 0; end = buf.indexOf('\r\n')) {
        const started = performance.now();
        buf = buf.slice(end + 2);
        redis.get('{floor}:k').then(
          () => {
            times.push(performance.now() - started); // as the relay's SY_RCPT ms: up to the answer, before its write
            socket.write('250 ok\r\n');
          },
          () => socket.write('451 floor: Redis failed\r\n'),
        );
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send?.(typeof address === 'object' && address !== null ? address.port : 0);
  });
  process.on('message', () => {
    process.send?.(times);
    times = [];
  });
  process.on('disconnect', () => process.exit(0)); // the bench is gone: do not outlive it
}

export interface Floor {
  readonly lines: string[];
  /** The server's p99 per line (ms): idle back to back, idle at the rate, at the rate with one core busy. */
  readonly p99: { readonly idle: number; readonly idleRate: number; readonly busyRate: number };
}

/** The floor: idle back to back, idle at `rate`, and at `rate` beside a busy process; `ms` each. */
export async function chainFloor(redisUrl: string, rate: number, ms = 5000): Promise<Floor> {
  const server = fork(fileURLToPath(import.meta.url), ['serve', redisUrl], { stdio: 'inherit' });
  const ask = <T>(): Promise<T> =>
    new Promise((resolve, reject) => {
      const exited = (code: number | null): void => reject(new Error(`the floor's server exited (${code})`));
      server.once('exit', exited);
      server.once('message', (m) => {
        server.off('exit', exited);
        resolve(m as T);
      });
    });
  const lines: string[] = [];
  try {
    const port = await ask<number>();
    const address = (): string => `u${Math.floor(Math.random() * 1e6)}@contoso.edu`;
    const phase = async (label: string, r: number): Promise<number> => {
      const until = performance.now() + ms;
      const client = await sample(port, address, () => performance.now() > until, r);
      server.send('report');
      const served = await ask<number[]>();
      lines.push(`${label}: ${client.latenciesMs.length} lines`);
      const own = stats(served);
      lines.push(`  per line in the server (its Redis GET included): ${own.text}`);
      lines.push(`  round trip at the client:                         ${stats(client.latenciesMs).text}`);
      return own.p99;
    };
    const idle = await phase('floor (one Redis GET per line, no relay), idle, back to back', 0);
    const idleRate = await phase(`floor, idle, ${rate} lines/s`, rate);
    const busy = spawn(process.execPath, ['-e', `const end = Date.now() + ${ms + 1000}; while (Date.now() < end);`], { stdio: 'ignore' });
    try {
      const busyRate = await phase(`floor, ${rate} lines/s, one core busy`, rate);
      return { lines, p99: { idle, idleRate, busyRate } };
    } finally {
      busy.kill();
    }
  } finally {
    server.kill();
  }
}

if (process.argv[2] === 'serve') serve(process.argv[3] ?? '');
