/**
 * A real local Redis Cluster of three masters (no replicas), each redis-server on a free
 * loopback port in its own directory, joined with `redis-cli --cluster create`.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';

const run = promisify(execFile);

export interface LocalCluster {
  readonly nodes: readonly string[];
  client(): Cluster;
  stop(): Promise<void>;
}

export async function startCluster(masters = 3): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-cluster-'));
  const servers: EmbeddedRedis[] = [];
  for (let i = 0; i < masters; i++) {
    servers.push(
      await startRedis({
        dir: join(dir, `n${i}`),
        extraConfig: ['cluster-enabled yes', 'cluster-config-file nodes.conf', 'cluster-node-timeout 2000'],
      }),
    );
  }
  const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
  await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes']);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const states = await Promise.all(servers.map(async (s) => (await run('redis-cli', ['-p', String(s.port), 'cluster', 'info'])).stdout));
    if (states.every((st) => st.includes('cluster_state:ok'))) break;
    if (Date.now() > deadline) throw new Error(`cluster not ok after 20 s: ${states.join(' | ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    nodes,
    client: () =>
      new Cluster(
        nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })),
        { redisOptions: { maxRetriesPerRequest: 3 } },
      ),
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
