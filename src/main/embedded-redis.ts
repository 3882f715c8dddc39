/**
 * A private redis-server for the demo, the tests and the benchmarks: started on a free
 * loopback port in its own directory, ready when it answers PING, stopped on request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, createConnection } from 'node:net';
import { join } from 'node:path';

export interface EmbeddedRedis {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly process: ChildProcess;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface EmbeddedRedisOptions {
  readonly dir: string;
  /** Append-only file with fsync every second (the shipped production setting). */
  readonly persistence?: boolean;
  /** AOF fsync policy with persistence (default everysec, as shipped in deploy/redis.conf). */
  readonly appendfsync?: 'everysec' | 'always';
  readonly port?: number;
  readonly binary?: string;
  /** More redis.conf lines (benchmarks try settings with them). */
  readonly extraConfig?: readonly string[];
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    let data = '';
    sock.setTimeout(500);
    sock.on('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      data += d.toString();
      if (data.includes('\r\n')) {
        sock.destroy();
        resolve(data.startsWith('+PONG'));
      }
    });
    sock.on('error', () => resolve(false));
    sock.on('timeout', () => {
      sock.destroy();
      resolve(false);
    });
  });
}

export async function startRedis(opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  mkdirSync(opts.dir, { recursive: true });
  const port = opts.port ?? (await freePort());
  const conf = [
    `port ${port}`,
    'bind 127.0.0.1',
    `dir ${opts.dir}`,
    'save ""',
    `appendonly ${opts.persistence ? 'yes' : 'no'}`,
    `appendfsync ${opts.appendfsync ?? 'everysec'}`,
    'maxmemory-policy noeviction',
    'protected-mode yes',
    'daemonize no',
    `logfile ${join(opts.dir, 'redis.log')}`,
    ...(opts.extraConfig ?? []),
  ].join('\n');
  const confFile = join(opts.dir, 'redis.conf');
  writeFileSync(confFile, `${conf}\n`);
  const child = spawn(opts.binary ?? 'redis-server', [confFile], { stdio: 'ignore' });
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code, sig) => {
      exited = `redis-server exited (${sig ?? code}); see ${join(opts.dir, 'redis.log')}`;
      resolve();
    }),
  );
  child.once('error', (err) => {
    exited = `cannot start redis-server: ${err.message} (install it: apt-get install -y redis-server)`;
  });
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (exited) throw new Error(exited);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server did not answer on 127.0.0.1:${port} within 10 s`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir: opts.dir,
    process: child,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exit;
    },
  };
}
