/**
 * A real local Redis Cluster: three masters, each with one replica (six redis-server on
 * free loopback ports, each in its own directory), joined with `redis-cli --cluster
 * create`. Ready when every node sees the cluster ok and every replica is in sync.
 * `cluster-require-full-coverage no`: while one master fails over, the other slots serve.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster } from 'ioredis';
import { freePort, startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';

const run = promisify(execFile);

export interface ClusterNode {
  readonly port: number;
  readonly id: string;
  readonly role: 'master' | 'replica';
  /** The node id of its master (replicas). */
  readonly masterId?: string;
  /** Slot ranges it serves (masters). */
  readonly slots: readonly (readonly [number, number])[];
}

export interface LocalCluster {
  readonly nodes: readonly string[];
  client(): Cluster;
  /** The topology as the live nodes see it now (CLUSTER NODES of one of them). */
  topology(): Promise<ClusterNode[]>;
  /** Kills one node with SIGKILL. */
  kill(port: number): Promise<void>;
  /** Waits until a replica of the (killed) master serves its slots and every live node sees the cluster ok. */
  failedOver(master: ClusterNode, timeoutMs?: number): Promise<ClusterNode>;
  /** Starts a killed node again (same port and directory) and waits until it is a replica in sync. */
  rejoin(port: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const cli = async (port: number, ...args: string[]): Promise<string> => (await run('redis-cli', ['-p', String(port), ...args])).stdout;

/** The nodes of CLUSTER NODES, without those flagged failed (or suspected). */
function parseNodes(text: string): ClusterNode[] {
  const out: ClusterNode[] = [];
  for (const line of text.trim().split('\n')) {
    const [id = '', addr = '', flags = '', master = '', , , , , ...slots] = line.split(' ');
    if (flags.includes('fail') || flags.includes('noaddr')) continue;
    out.push({
      port: Number(/:(\d+)@/.exec(addr)?.[1] ?? 0),
      id,
      role: flags.includes('master') ? 'master' : 'replica',
      ...(master !== '-' ? { masterId: master } : {}),
      slots: slots
        .filter((s) => !s.startsWith('['))
        .map((s) => {
          const [a = 0, b = a] = s.split('-').map(Number);
          return [a, b] as const;
        }),
    });
  }
  return out;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe().catch(() => undefined);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startCluster(masters = 3, replicasEach = 1): Promise<LocalCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-cluster-'));
  const extraConfig = [
    'cluster-enabled yes',
    'cluster-config-file nodes.conf',
    'cluster-node-timeout 2000',
    'cluster-require-full-coverage no',
  ];
  // Each node's cluster bus port is chosen too: Redis's default (port + 10,000) is out of range
  // for ports above 55,535 — a third of Linux's ephemeral range — or may be taken.
  const busPorts = new Map<number, number>();
  const startNode = async (i: number): Promise<EmbeddedRedis> => {
    for (let attempt = 1; ; attempt++) {
      const [port, bus] = [await freePort(), await freePort()];
      try {
        const server = await startRedis({ dir: join(dir, `n${i}`), port, extraConfig: [...extraConfig, `cluster-port ${bus}`] });
        busPorts.set(port, bus);
        return server;
      } catch (err) {
        // a port taken between choosing it and the server binding it: choose again
        if (attempt >= 3) throw err;
      }
    }
  };
  const started = await Promise.allSettled(Array.from({ length: masters * (1 + replicasEach) }, (_, i) => startNode(i)));
  const servers: EmbeddedRedis[] = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    // no node outlives a cluster that could not start
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
    throw failed.reason;
  }
  const nodes = servers.map((s) => `127.0.0.1:${s.port}`);
  await run('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-replicas', String(replicasEach), '--cluster-yes']);
  const live = (): EmbeddedRedis[] => servers.filter((s) => s.process.exitCode === null && s.process.signalCode === null);
  const allOk = async (): Promise<true | undefined> => {
    const states = await Promise.all(live().map((s) => cli(s.port, 'cluster', 'info')));
    return states.every((st) => st.includes('cluster_state:ok')) ? true : undefined;
  };
  const topology = async (): Promise<ClusterNode[]> => parseNodes(await cli(live()[0]?.port ?? 0, 'cluster', 'nodes'));
  await until('cluster ok', 20_000, allOk);
  await until('replicas in sync', 20_000, async () => {
    const top = await topology();
    const reps = top.filter((n) => n.role === 'replica');
    if (reps.length !== masters * replicasEach) return undefined;
    const infos = await Promise.all(reps.map((r) => cli(r.port, 'info', 'replication')));
    return infos.every((i) => i.includes('master_link_status:up')) ? true : undefined;
  });
  return {
    nodes,
    client: () =>
      new Cluster(
        nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })),
        { redisOptions: { maxRetriesPerRequest: 3 } },
      ),
    topology,
    async kill(port) {
      await servers.find((s) => s.port === port)?.stop('SIGKILL');
    },
    async failedOver(master, timeoutMs = 30_000) {
      const slot = master.slots[0]?.[0] ?? 0;
      return until(`failover of 127.0.0.1:${master.port}`, timeoutMs, async () => {
        const now = await topology();
        const owner = now.find((n) => n.role === 'master' && n.slots.some(([a, b]) => slot >= a && slot <= b));
        if (owner === undefined || owner.port === master.port) return undefined;
        return (await allOk()) ? owner : undefined;
      });
    },
    async rejoin(port, timeoutMs = 30_000) {
      const i = servers.findIndex((s) => s.port === port);
      const old = servers[i];
      if (old === undefined) throw new Error(`no node on port ${port}`);
      servers[i] = await startRedis({ dir: old.dir, port, extraConfig: [...extraConfig, `cluster-port ${busPorts.get(port) ?? 0}`] });
      await until(`127.0.0.1:${port} back as a replica`, timeoutMs, async () => {
        const me = (await topology()).find((n) => n.port === port);
        if (me?.role !== 'replica') return undefined;
        return (await cli(port, 'info', 'replication')).includes('master_link_status:up') && (await allOk()) ? true : undefined;
      });
    },
    async stop() {
      await Promise.all(servers.map((s) => s.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
