/**
 * Everything on a real 3-master Redis Cluster (SPEC §9): every key carries the namespace's
 * hash tag, so the multi-key scripts, MULTI blocks and BullMQ all stay in one slot. Import,
 * resolve, an LDAP sync job on the worker, and the relay's queue and deliveries.
 */
import { randomBytes } from 'node:crypto';
import { QueueEvents } from 'bullmq';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startRelay } from '../../src/main/relay.js';
import { startWorker } from '../../src/main/worker.js';
import { SERVICE_DN } from '../../testkit/embedded-slapd.js';
import { createQueueStore } from '../../src/mailqueue/store.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { SYNC_QUEUE, syncJobOptions, type SyncJobData } from '../../src/jobqueue/queues.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { createKeys } from '../../src/store/keys.js';
import { csvFixture, demoConfigObject } from '../helpers/env.js';
import { startCluster, type LocalCluster } from '../helpers/redis-cluster.js';
import { fixtureSlapd } from '../helpers/slapd.js';
import { sendMail, startSink, type Sink } from '../helpers/smtp.js';

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

function clusterConfig(adjust?: (raw: Record<string, unknown>) => void) {
  const namespace = `c-${randomBytes(4).toString('hex')}`;
  const raw = demoConfigObject(namespace, 'redis://unused');
  raw.redis = { namespace, cluster: { nodes: cluster.nodes } };
  adjust?.(raw);
  return parseConfig(raw, 'cluster-test.yaml', {});
}

describe('on a 3-master Redis Cluster', () => {
  it('imports, resolves and rolls versions with every key in one slot', async () => {
    const config = clusterConfig();
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
    const config = clusterConfig((raw) =>
      (raw.sources as unknown[]).push({
        name: 'corp-ad',
        type: 'ldap',
        url: slapd.ldapsUrl,
        caFile: slapd.caFile,
        bindDn: SERVICE_DN,
        bindPasswordEnv: 'SY_TEST_LDAP_PASSWORD',
        baseDn: 'dc=contoso,dc=edu',
        mailboxConnector: 'onprem',
      }),
    );
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
      for (let i = 0; i < 50 && (await store.depth()).active > 0; i++) await new Promise((res) => setTimeout(res, 100));
      expect(await store.depth()).toEqual({ ready: 0, active: 0, held: 0 });
    } finally {
      await relay.close(2000);
      await Promise.all(sinks.map((s) => s.close()));
    }
  });
});
