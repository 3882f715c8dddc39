/**
 * Everything on a real Redis Cluster of 3 masters with one replica each (SPEC §9): the
 * routing table and BullMQ keys carry the namespace's hash tag (one slot); the mail queue
 * is spread over its shard tags, so over every master. Import, resolve, an LDAP sync job
 * on the worker, the relay's queue and deliveries, the queue layout migration, and a
 * master killed and failed over to its replica with nothing accepted lost.
 */
import { randomBytes } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startRelay } from '../../src/main/relay.js';
import { searchTrace } from '../../src/trace/search.js';
import { startWorker } from '../../src/main/worker.js';
import { migrateQueueLayout } from '../../src/mailqueue/migrate.js';
import { keySlot, waitReplicas } from '../../src/mailqueue/replicas.js';
import { createQueueStore } from '../../src/mailqueue/store.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { SYNC_QUEUE, syncJobOptions, type SyncJobData } from '../../src/jobqueue/queues.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { createKeys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { csvFixture, demoConfigObject, onlySources } from '../helpers/env.js';
import { sendRun, until } from '../helpers/mail-run.js';
import { pendingMessages, queueDrained, report, settle } from '../helpers/fault-audit.js';
import { writeOldMessage } from '../helpers/old-queue.js';
import { startCluster, type ClusterNode, type LocalCluster } from '../helpers/redis-cluster.js';
import { fixtureSlapd, slapdSource } from '../helpers/slapd.js';
import { message, sendMail, startSink, type Sink } from '../helpers/smtp.js';

let cluster: LocalCluster;
let client: Cluster;
let slapd: Awaited<ReturnType<typeof fixtureSlapd>>;
beforeAll(async () => {
  [cluster, slapd] = await Promise.all([startCluster(), fixtureSlapd()]);
  client = cluster.client();
});
afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
  await slapd?.cleanup();
});

function clusterConfig(adjust?: (raw: Record<string, unknown>) => void, namespace = `c-${randomBytes(4).toString('hex')}`) {
  const raw = demoConfigObject(namespace, 'redis://unused');
  raw.redis = { namespace, cluster: { nodes: cluster.nodes } };
  adjust?.(raw);
  return parseConfig(raw, 'cluster-test.yaml', {});
}

describe('on a 3-master Redis Cluster', () => {
  it('imports, resolves and rolls versions with every table key in one slot', async () => {
    const config = clusterConfig(onlySources('corp')); // the source it imports: a complete table
    const keys = createKeys(config.redis.namespace);
    const deps = { redis: client, keys, versionsKept: 5 };
    const source = config.sources.find((s) => s.name === 'corp');
    if (!source) throw new Error('no corp source');
    const first = await importCsvde(deps, source, csvFixture('contoso.csv'));
    expect(first.version).toBe(1);
    const resolver = createResolver({ redis: client, keys, context: routingContext(config) });
    const [mailbox, contact, unknown] = await resolver.resolve(
      ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu', 'nobody@chem.lab.contoso.edu'],
      false,
    );
    expect(mailbox).toMatchObject({ action: 'route', connector: 'onprem', reason: 'mailbox', tableVersion: 1 });
    expect(contact).toMatchObject({ action: 'route', connector: 'cloud', recipient: 'ada.ivanov@live.contoso.edu' });
    expect(unknown).toMatchObject({ action: 'reject', smtp: '550 5.1.1 Recipient address rejected: user unknown' });
    // every key of the namespace is in one slot, on one master
    const found: string[] = [];
    for (const node of client.nodes('master')) {
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', `${keys.prefix}:*`, 'COUNT', 1000);
        cursor = next;
        found.push(...batch);
      } while (cursor !== '0');
    }
    expect(found.length).toBeGreaterThan(5);
    const slots = new Set(await Promise.all(found.map((k) => client.cluster('KEYSLOT', k))));
    expect(slots.size).toBe(1);
  });

  it('runs an LDAP sync job on a worker (BullMQ on the cluster)', async () => {
    const config = clusterConfig((raw) => (raw.sources as unknown[]).push(slapdSource(slapd)));
    const keys = createKeys(config.redis.namespace);
    const worker = await startWorker({
      config,
      log: createLogger('cluster-worker', 'silent'),
      env: { SY_TEST_LDAP_PASSWORD: slapd.servicePassword },
    });
    const connection = new Cluster(
      cluster.nodes.map((n) => ({ host: '127.0.0.1', port: Number(n.split(':')[1]) })),
      { redisOptions: { maxRetriesPerRequest: null } },
    );
    const events = new QueueEvents(SYNC_QUEUE, { connection, prefix: keys.bullPrefix });
    try {
      await events.waitUntilReady();
      const data: SyncJobData = { source: 'corp-ad', mode: 'full', trigger: 'request' };
      const job = await worker.queues.sync.add('sync', data, syncJobOptions(data));
      const result = (await job.waitUntilFinished(events, 30_000)) as { version: number; counts: { objects: number } };
      expect(result).toMatchObject({ version: 1, counts: { objects: 267 } });
    } finally {
      await events.close();
      connection.disconnect();
      await worker.close();
    }
  });

  it('queues and delivers through the relay', async () => {
    const sinks: Sink[] = await Promise.all([startSink(), startSink(), startSink(), startSink()]);
    const names = ['onprem', 'cloud', 'legacy', 'internet'];
    const config = clusterConfig((raw) => {
      for (const c of raw.connectors as { name: string; smartHosts: string[] }[])
        c.smartHosts = [`127.0.0.1:${sinks[names.indexOf(c.name)]?.port}`];
      raw.relay = { listen: ['127.0.0.1:0'], hostname: 'mx.cluster.test', retryFirst: '300ms' };
    });
    const keys = createKeys(config.redis.namespace);
    const source = config.sources.find((s) => s.name === 'corp');
    if (!source) throw new Error('no corp source');
    await importCsvde({ redis: client, keys, versionsKept: 5 }, source, csvFixture('contoso.csv'));
    const relay = await startRelay({ config, log: createLogger('cluster-relay', 'silent'), pollMs: 100 });
    try {
      const port = relay.addresses[0]?.port ?? 0;
      const r = await sendMail({
        port,
        from: 'sender@example.org',
        to: ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu', 'nobody@contoso.edu'],
      });
      expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as/);
      const [onprem, cloud, legacy] = await Promise.all([sinks[0]?.waitFor(1), sinks[1]?.waitFor(1), sinks[2]?.waitFor(1)]);
      expect([onprem?.[0]?.rcpts[0]?.address, cloud?.[0]?.rcpts[0]?.address, legacy?.[0]?.rcpts[0]?.address]).toEqual([
        'ada.lovelace@contoso.edu',
        'ada.ivanov@live.contoso.edu',
        'nobody@contoso.edu',
      ]);
      const store = createQueueStore(client, keys);
      await until(queueDrained(client, keys), 10_000, 'an empty queue');
      expect(await store.depth()).toEqual({ ready: 0, active: 0, held: 0 });
      // message trace on the Cluster: one trace-write.lua call per queue shard tag, found by recipient across shards
      const id = /queued as (\w+)/.exec(r.response)?.[1] ?? '';
      const settings = { shards: config.queue.shards, retentionMs: 86_400_000 };
      let found = await searchTrace(client, keys, settings, { recipient: 'ada.ivanov@contoso.edu' });
      for (let i = 0; i < 50 && found[0]?.events.filter((e) => e.kind === 'attempt').length !== 3; i++) {
        await new Promise((res) => setTimeout(res, 100));
        found = await searchTrace(client, keys, settings, { recipient: 'ada.ivanov@contoso.edu' });
      }
      expect(found.map((t) => t.id)).toEqual([id]);
      expect(
        found[0]?.events
          .filter((e) => e.kind === 'attempt')
          .map((e) => (e.kind === 'attempt' ? e.hop : ''))
          .sort(),
      ).toEqual(['cloud', 'legacy', 'onprem']);
    } finally {
      await relay.close(2000);
      await Promise.all(sinks.map((s) => s.close()));
    }
  });

  it('migrates the single-tag queue of an earlier release across slots into its shard', async () => {
    const config = clusterConfig();
    const keys = createKeys(config.redis.namespace);
    for (let i = 0; i < 30; i++)
      await writeOldMessage(client, keys, message(`old ${i}`), [
        { hop: 'onprem', rcpts: [`u${i}@contoso.edu`], state: i % 3 === 0 ? 'active' : 'ready' },
        { hop: 'legacy', rcpts: [`v${i}@contoso.edu`], state: i % 5 === 0 ? 'held' : 'ready' },
      ]);
    expect(await migrateQueueLayout(client, keys, config.queue.shards)).toEqual({ moved: 60 });
    expect(await migrateQueueLayout(client, keys, config.queue.shards)).toEqual({ moved: 0 });
    expect(await createQueueStore(client, keys).depth()).toEqual({ ready: 54, active: 0, held: 6 });
    // old ids live in shard 0, in another slot than the old layout's
    expect(keySlot(keys.mqShard(0).tag)).not.toBe(keySlot(keys.prefix));
    expect(await scanAll(`${keys.mqShard(0).tag}:mq:m:*`)).toHaveLength(30);
    expect(await scanAll(`${keys.prefix}:mq:*`)).toEqual([]);
  });

  it('spreads the queue over every master; a master killed and failed over loses nothing accepted', async () => {
    const top = await cluster.topology();
    const masters = top.filter((n) => n.role === 'master');
    const masterOf = (slot: number): ClusterNode | undefined => masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b));
    // a namespace whose shards fall on all three masters (nearly every one does)
    let namespace = '';
    do namespace = `c-${randomBytes(4).toString('hex')}`;
    while (new Set(Array.from({ length: 16 }, (_, k) => masterOf(keySlot(`{${namespace}:q${k}}`))?.port)).size < 3);
    const tableMaster = masterOf(keySlot(`{${namespace}}`));
    // the victim holds queue shards but not the routing table: lookups must go on
    const victim = masters.find((m) => m.port !== tableMaster?.port);
    if (!victim) throw new Error('no master to kill');

    const sinks: Sink[] = await Promise.all([startSink(), startSink(), startSink(), startSink()]);
    const names = ['onprem', 'cloud', 'legacy', 'internet'];
    const config = clusterConfig((raw) => {
      for (const c of raw.connectors as { name: string; smartHosts: string[] }[])
        c.smartHosts = [`127.0.0.1:${sinks[names.indexOf(c.name)]?.port}`];
      raw.relay = { listen: ['127.0.0.1:0'], hostname: 'mx.cluster.test', retryFirst: '300ms', retryMax: '2s', deliveryLease: '3s' };
      (raw.redis as Record<string, unknown>).waitReplicas = 1;
    }, namespace);
    const keys = createKeys(namespace);
    const source = config.sources.find((s) => s.name === 'corp');
    if (!source) throw new Error('no corp source');
    await importCsvde({ redis: client, keys, versionsKept: 5 }, source, csvFixture('contoso.csv'));
    const rcpts = ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu', 'nobody@contoso.edu'];
    const delivered = sinks.slice(0, 3);
    const log = createLogger('cluster-relay', process.env.TEST_LOG_LEVEL ?? 'silent');
    // one relay accepts only, so that the queue fills before anything is delivered
    const acceptor = await startRelay({ config, log, deliver: false });
    let deliverer: Awaited<ReturnType<typeof startRelay>> | undefined;
    const lookupRedis = createRedis(config.redis, 'lookup');
    lookupRedis.on('error', () => undefined);
    const lookups = { route: 0, deferred: 0, other: 0 };
    let looking = true;
    let lookupLoop: Promise<void> = Promise.resolve();
    try {
      const port = acceptor.addresses[0]?.port ?? 0;
      const first = sendRun(() => port, 300, rcpts);
      await first.done;
      const perMaster = await queueKeysPerMaster(namespace);
      expect(perMaster).toHaveLength(3);
      expect(perMaster.every((n) => n > 0)).toBe(true);

      const resolver = createResolver({ redis: lookupRedis, keys, context: routingContext(config) });
      lookupLoop = (async () => {
        while (looking) {
          const [d] = await resolver.resolve(['ada.lovelace@contoso.edu'], false).catch(() => [undefined]);
          if (d?.action === 'route') lookups.route++;
          else if (d?.action === 'defer' && d.smtp.startsWith('451')) lookups.deferred++;
          else lookups.other++;
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      deliverer = await startRelay({ config, log, pollMs: 100 });
      const second = sendRun(() => port, 100, rcpts, { first: 301 });
      await until(() => delivered.reduce((n, s) => n + s.messages.length, 0) >= 100);
      await cluster.kill(victim.port);
      const deliveredAtKill = delivered.reduce((n, s) => n + s.messages.length, 0); // for the log only
      const promoted = await cluster.failedOver(victim);
      // WAIT goes to the master of the shard's slot: the promoted one has no replica left
      await new Promise<void>((resolve, reject) => client.refreshSlotsCache((err) => (err ? reject(err) : resolve())));
      const acks = await Promise.all(
        Array.from({ length: 16 }, async (_, k) => {
          const key = keys.mqShard(k).ready;
          await client.set(`${keys.mqShard(k).tag}:wait-probe`, '1', 'PX', 60_000); // a write of this client on that node
          return { onPromoted: isOn(promoted, keySlot(key)), acked: await waitReplicas(client, key, 1, 2000) };
        }),
      );
      expect(acks.every((a) => a.acked === (a.onPromoted ? 0 : 1))).toBe(true);
      expect(acks.some((a) => a.onPromoted)).toBe(true);
      // WAIT now goes to the promoted master, which has no replica until the old master
      // comes back as one (until then its shards answer 451 and cancel what they wrote)
      await cluster.rejoin(victim.port);
      const a = await settle([first, second], sinks, { drained: queueDrained(client, keys), timeoutMs: 90_000 });
      const pending = await pendingMessages([first, second], client, keys);
      looking = false;
      await lookupLoop;
      report(`cluster failover of 127.0.0.1:${victim.port} (replica 127.0.0.1:${promoted.port} took over)`, a, {
        deliveredAtKill,
        pendingLeft: pending.length,
        pendingAnswers: pending.map((p) => `seq ${p.seq}: ${p.reply}`).join(' | '),
        lookupsRouted: lookups.route,
        lookupsDeferred: lookups.deferred,
        lookupsOther: lookups.other,
      });
      expect(a.attempts.refused).toBe(0);
      expect(a.accepted).toBe(400);
      expect(a.lost).toEqual([]);
      expect(a.unexpected).toEqual([]);
      // the failover's instant between a write and its reply may duplicate (SPEC §5), never
      // twice: a 4xx'd or unanswered message arrives at most once, a 250 at most twice
      expect([...a.notQueuedArrived, ...a.noAnswerArrived].filter((l) => l.copies > 1)).toEqual([]);
      expect(a.duplicates.filter((d) => d.helos.length > 2)).toEqual([]);
      // one left pending (the reaper delivers it later) was answered 4xx in that instant, never 250
      expect(pending.filter((p) => p.outcome !== 'not-queued')).toEqual([]);
      expect(lookups.other).toBe(0);
      expect(lookups.route).toBeGreaterThan(0);
    } finally {
      looking = false;
      await lookupLoop;
      lookupRedis.disconnect();
      await deliverer?.close(2000);
      await acceptor.close(2000);
      await Promise.all(sinks.map((s) => s.close()));
    }
  });
});

const isOn = (node: ClusterNode, slot: number): boolean => node.slots.some(([a, b]) => slot >= a && slot <= b);

/** Every key matching `pattern` on every master. */
async function scanAll(pattern: string): Promise<string[]> {
  const found: string[] = [];
  for (const node of client.nodes('master')) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      found.push(...batch);
    } while (cursor !== '0');
  }
  return found;
}

/** How many queued messages of the namespace each master holds. */
async function queueKeysPerMaster(namespace: string): Promise<number[]> {
  return Promise.all(
    client.nodes('master').map(async (node) => {
      let n = 0;
      let cursor = '0';
      do {
        const [next, batch] = await node.scan(cursor, 'MATCH', `{${namespace}:q*}:mq:m:*`, 'COUNT', 1000);
        cursor = next;
        n += batch.length;
      } while (cursor !== '0');
      return n;
    }),
  );
}
