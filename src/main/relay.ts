/**
 * A relay process: the SMTP server, its delivery runner, and their Redis connections
 * (fail-fast for RCPT lookups and queue writes, patient for deliveries).
 */
import type { AddressInfo } from 'node:net';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { createNotifier } from '../delivery/notices.js';
import { dkimSigners } from '../delivery/outbound.js';
import { createPool } from '../delivery/pool.js';
import { createRunner, type Runner } from '../delivery/runner.js';
import type { Logger } from '../log/logger.js';
import { createQueueStore } from '../mailqueue/store.js';
import { hopSecret } from '../message/loop-marker.js';
import { createRelay } from '../relay/server.js';
import { migrateOnStart } from './migrate-on-start.js';
import { createResolver } from '../resolver/resolver.js';
import { parseAddress } from '../routing/address.js';
import { routingContext } from '../routing/decide.js';
import { lookup } from '../store/table.js';
import { createKeys } from '../store/keys.js';
import { connected, createRedis } from '../store/redis.js';
import type { Observer } from '../log/observer.js';
import { traceSettings } from '../trace/cli.js';
import { withTrace } from '../trace/observer.js';
import { createTraceWriter } from '../trace/writer.js';
import { startDepthSampler } from '../trace/stats.js';

export interface RunningRelay {
  readonly addresses: readonly AddressInfo[];
  readonly runner: Runner;
  /** SIGTERM behaviour: drain SMTP sessions, let deliveries in flight finish, disconnect. */
  close(graceMs?: number): Promise<void>;
}

export interface RelayOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
  /** How often an idle runner looks for due units of other relays (ms). */
  readonly pollMs?: number;
  /** Accept mail without delivering it (queue tests, benchmarks of acceptance alone). */
  readonly deliver?: boolean;
  readonly observer?: Observer;
}

export async function startRelay(opts: RelayOptions): Promise<RunningRelay> {
  const { config, log } = opts;
  const rc = config.relay;
  const env = opts.env ?? process.env;
  const keys = createKeys(config.redis.namespace);
  const lookupRedis = createRedis(config.redis, 'lookup', env);
  const acceptRedis = createRedis(config.redis, 'accept', env);
  const workRedis = createRedis(config.redis, 'worker', env);
  // trace writes fail fast and are dropped (src/trace/writer.ts), never queued behind an outage
  const traceRedis = config.trace.enabled ? createRedis(config.redis, 'accept', env) : undefined;
  const clients = [lookupRedis, acceptRedis, workRedis, ...(traceRedis ? [traceRedis] : [])];
  for (const r of clients) r.on('error', () => undefined); // reported per command
  // all of them before listening: a fail-fast client that is still connecting (a Cluster
  // still loading its slot map) would turn the first messages into 451s
  await Promise.all(clients.map((r) => connected(r, 10_000)));
  const tracer = traceRedis
    ? createTraceWriter({ redis: traceRedis, keys, settings: traceSettings(config), logger: log.child({ part: 'trace' }) })
    : undefined;
  const observer = withTrace(opts.observer, tracer);
  await migrateOnStart({ redis: workRedis, keys, config }, log);
  const secret = await hopSecret(workRedis, keys);
  const resolver = createResolver({ redis: lookupRedis, keys, context: routingContext(config) });
  const workStore = createQueueStore(workRedis, keys, { shards: config.queue.shards });
  const pool = createPool({ name: rc.hostname, connectionsPerHost: rc.connectionsPerHost, timeoutMs: 30_000 });
  const delayWarning = rc.delayWarning === 'off' ? undefined : parseDuration(rc.delayWarning);
  const runner = createRunner({
    store: workStore,
    pool,
    notifier: createNotifier({ resolver, store: workStore, hostname: rc.hostname, logger: log.child({ part: 'dsn' }) }),
    connectors: new Map(config.connectors.map((c) => [c.name, c])),
    hopSecret: secret,
    signers: dkimSigners(config.connectors),
    observer,
    logger: log.child({ part: 'delivery' }),
    options: {
      concurrency: rc.deliveryConcurrency,
      leaseMs: parseDuration(rc.deliveryLease),
      pollMs: opts.pollMs ?? 1000,
      retryFirstMs: parseDuration(rc.retryFirst),
      retryMaxMs: parseDuration(rc.retryMax),
      lifetimeMs: parseDuration(rc.maxQueueLifetime),
      ...(delayWarning !== undefined ? { delayWarningMs: delayWarning } : {}),
    },
  });
  const deliver = opts.deliver !== false;
  const relay = createRelay({
    config,
    resolver,
    store: createQueueStore(acceptRedis, keys, {
      shards: config.queue.shards,
      durability: { replicas: config.redis.waitReplicas, timeoutMs: parseDuration(config.redis.waitTimeout) },
    }),
    hopSecret: secret,
    logger: log.child({ part: 'smtp' }),
    ...(deliver ? { runner } : {}),
    observer,
    async senderPrimary(sender) {
      const parsed = parseAddress(sender);
      if (!parsed.ok) return undefined;
      const [found] = await lookup(lookupRedis, keys, [parsed.address.key]);
      if (found?.state === 'unavailable') throw new Error(found.error);
      const obj = found?.state === 'ok' ? found.object : undefined;
      if (obj?.target === undefined || obj.primary === undefined) return undefined;
      const target = parseAddress(obj.target); // bare: buildObject stripped SMTP: (routing/address.ts)
      return target.ok && target.address.key === parsed.address.key ? obj.primary : undefined;
    },
  });
  const stopSampler = traceRedis ? startDepthSampler(traceRedis, keys, () => workStore.depth()) : undefined;
  const addresses = await relay.listen();
  if (deliver) runner.start();
  log.info({ event: 'SY_RELAY_LISTENING', listen: addresses.map((a) => `${a.address}:${a.port}`) }, 'relay listening');
  return {
    addresses,
    runner,
    async close(graceMs = 30_000) {
      await relay.drain(graceMs);
      await runner.stop(graceMs);
      pool.close();
      stopSampler?.();
      await tracer?.close();
      for (const r of clients) {
        if (r.status === 'ready') await r.quit().catch(() => r.disconnect());
        else r.disconnect();
      }
    },
  };
}
