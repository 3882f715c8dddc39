/**
 * A real Sentinel set-up on loopback: a master (AOF on), two replicas (so the promoted one
 * still has a replica), and three sentinels (quorum 2, a master is down after 1 s), each a
 * redis-server of its own in a temp dir.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';

export const MASTER_NAME = 'switchyard';

export interface LocalSentinel {
  readonly sentinels: readonly string[];
  master: EmbeddedRedis;
  readonly replicas: readonly EmbeddedRedis[];
  /** The address the sentinels currently report as master. */
  currentMaster(): Promise<string>;
  stop(): Promise<void>;
}

async function startSentinelProcess(dir: string, port: number, masterPort: number): Promise<ChildProcess> {
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `logfile ${join(dir, 'sentinel.log')}`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 5000`,
      `sentinel parallel-syncs ${MASTER_NAME} 1`,
      '',
    ].join('\n'),
  );
  const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  const probe = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  for (let i = 0; i < 100; i++) {
    try {
      await probe.connect();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  probe.disconnect();
  return child;
}

export async function startSentinel(): Promise<LocalSentinel> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-sentinel-'));
  const master = await startRedis({ dir: join(dir, 'master'), persistence: true });
  const replicas = await Promise.all(
    [1, 2].map((i) =>
      startRedis({ dir: join(dir, `replica${i}`), persistence: true, extraConfig: [`replicaof 127.0.0.1 ${master.port}`] }),
    ),
  );
  const ports = [await freePort(), await freePort(), await freePort()];
  const procs = await Promise.all(ports.map((p, i) => startSentinelProcess(join(dir, `s${i}`), p, master.port)));
  const sentinels = ports.map((p) => `127.0.0.1:${p}`);
  const ask = new Redis({ host: '127.0.0.1', port: ports[0] ?? 0 });
  ask.on('error', () => undefined);
  // ready once the replica is in sync and every sentinel knows the others and the replica
  const deadline = Date.now() + 20_000;
  const replicaClients = replicas.map((r) => new Redis(r.url));
  for (;;) {
    const infos = await Promise.all(replicaClients.map((c) => c.info('replication').catch(() => '')));
    const known = (await ask.call('SENTINEL', 'REPLICAS', MASTER_NAME).catch(() => [])) as unknown[];
    const peers = (await ask.call('SENTINEL', 'SENTINELS', MASTER_NAME).catch(() => [])) as unknown[];
    if (infos.every((i) => i.includes('master_link_status:up')) && known.length >= 2 && peers.length >= 2) break;
    if (Date.now() > deadline) throw new Error('sentinel set-up not ready within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const c of replicaClients) c.disconnect();
  const self: LocalSentinel = {
    sentinels,
    master,
    replicas,
    async currentMaster() {
      const [host, port] = (await ask.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as [string, string];
      return `${host}:${port}`;
    },
    async stop() {
      ask.disconnect();
      // every sentinel gone before its folder is: a sentinel still running rewrites its config
      // file there (ENOTEMPTY under the rmdir, seen once in 20 soak runs)
      await Promise.all(
        procs.map(
          (p) =>
            new Promise<void>((resolve) => {
              if (p.exitCode !== null || p.signalCode !== null) return resolve();
              p.once('exit', () => resolve());
              p.kill('SIGKILL');
            }),
        ),
      );
      await Promise.all([master, ...replicas].map((r) => r.stop('SIGKILL')));
      rmSync(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    },
  };
  return self;
}
