/**
 * A relay process: the SMTP server, its delivery runner, and their Redis connections
 * (fail-fast for RCPT lookups and queue writes, patient for deliveries).
 */
import type { AddressInfo } from 'node:net';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { localAddresses, selfRoutesByName } from '../config/self-route.js';
import { createNotifier } from '../delivery/notices.js';
import { dkimSigners } from '../delivery/outbound.js';
import { createPool } from '../delivery/pool.js';
import { createRunner, type Runner } from '../delivery/runner.js';
import type { Logger } from '../log/logger.js';
import { createQueueStore } from '../mailqueue/store.js';
import { createHopMarker, hopSecret } from '../message/loop-marker.js';
import { createRelay } from '../relay/server.js';
import { assertSmtpServerInternals } from '../relay/smtp-server-patches.js';
import { assertNodemailerInternals, installDotStuffing } from '../delivery/nodemailer-internals.js';
import { createAuthLimiter } from '../relay/auth-limit.js';
import { migrateOnStart } from './migrate-on-start.js';
import { createResolver } from '../resolver/resolver.js';
import { parseAddress } from '../routing/address.js';
import { routingContext } from '../routing/decide.js';
import { lookupTargets } from '../store/target-lookup.js';
import { createKeys } from '../store/keys.js';
import { connected, createRedis } from '../store/redis.js';
import { coalesceWrites } from '../store/coalesce.js';
import type { Observer } from '../log/observer.js';
import { traceSettings } from '../trace/cli.js';
import { withTrace } from '../trace/observer.js';
import { createTraceWriter } from '../trace/writer.js';
import { startDepthSampler } from '../trace/stats.js';
import { createLookupBeacon } from '../store/lookup-beacon.js';

export interface RunningRelay {
  readonly addresses: readonly AddressInfo[];
  readonly runner: Runner;
  /**
   * Applies a reloaded configuration (already validated; `relay.listen` and `redis` unchanged)
   * to new sessions and deliveries: domains and connectors for decisions and delivery, DKIM
   * signers, limits, trusted networks, AUTH users, TLS certificates. Throws, changing
   * nothing, when a file it names (certificate, key, users file) cannot be read.
   */
  reconfigure(config: Config): void;
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
  // the library internals the relay depends on: fail at start, not at the first delivery
  assertNodemailerInternals();
  installDotStuffing();
  assertSmtpServerInternals();
  const rc = config.relay;
  const env = opts.env ?? process.env;
  // a smart host whose name resolves to this relay's own listener: refused before anything starts
  const loops = await selfRoutesByName(config.connectors, rc.listen, new Set([...localAddresses(), rc.hostname.toLowerCase()]));
  if (loops.length > 0) throw new Error(loops.join('; '));
  const keys = createKeys(config.redis.namespace);
  const lookupRedis = createRedis(config.redis, 'lookup', env);
  const acceptRedis = createRedis(config.redis, 'accept', env);
  const workRedis = createRedis(config.redis, 'worker', env);
  // trace writes fail fast and are dropped (src/trace/writer.ts), never queued behind an outage
  const traceRedis = config.trace.enabled ? createRedis(config.redis, 'accept', env) : undefined;
  const clients = [lookupRedis, acceptRedis, workRedis, ...(traceRedis ? [traceRedis] : [])];
  for (const r of clients) {
    r.on('error', () => undefined); // reported per command
    coalesceWrites(r); // the scripts of one event-loop turn leave in one write (src/store/coalesce.ts)
  }
  // all of them before listening: a fail-fast client that is still connecting (a Cluster
  // still loading its slot map) would turn the first messages into 451s
  await Promise.all(clients.map((r) => connected(r, 10_000)));
  const tracer = traceRedis
    ? createTraceWriter({ redis: traceRedis, keys, settings: traceSettings(config), logger: log.child({ part: 'trace' }) })
    : undefined;
  const observer = withTrace(opts.observer, tracer);
  await migrateOnStart({ redis: workRedis, keys, config }, log);
  const hopMarker = createHopMarker(await hopSecret(workRedis, keys));
  const resolver = createResolver({ redis: lookupRedis, keys, context: routingContext(config) });
  const workStore = createQueueStore(workRedis, keys, { shards: config.queue.shards });
  const pool = createPool({ name: rc.hostname, connectionsPerHost: rc.connectionsPerHost, timeoutMs: 30_000 });
  // the runner reads these maps per delivery; a reload refills them in place
  const connectors = new Map(config.connectors.map((c) => [c.name, c]));
  const signers = dkimSigners(config.connectors);
  const delayWarning = rc.delayWarning === 'off' ? undefined : parseDuration(rc.delayWarning);
  const runner = createRunner({
    store: workStore,
    pool,
    notifier: createNotifier({ resolver, store: workStore, hostname: rc.hostname, logger: log.child({ part: 'dsn' }) }),
    connectors,
    hopMarker,
    signers,
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
    hopMarker,
    logger: log.child({ part: 'smtp' }),
    ...(deliver ? { runner } : {}),
    observer,
    lookups: createLookupBeacon(lookupRedis, keys, `relay ${rc.hostname}:${process.pid}`),
    authLimiter: createAuthLimiter(lookupRedis, keys, {
      slowAfter: rc.authFailures.slowAfter,
      refuseAfter: rc.authFailures.refuseAfter,
      slowByMs: parseDuration(rc.authFailures.slowBy),
      windowMs: parseDuration(rc.authFailures.window),
      refuseForMs: parseDuration(rc.authFailures.refuseFor),
    }),
    // the object whose targetAddress the sender is: the target index first, then (a table
    // of an earlier release) the object holding the address as its own target
    async senderPrimary(sender) {
      const parsed = parseAddress(sender);
      if (!parsed.ok) return undefined;
      const [found] = await lookupTargets(lookupRedis, keys, [parsed.address.key]);
      if (found?.state === 'unavailable') throw new Error(found.error);
      return found?.state === 'ok' ? found.object?.primary : undefined;
    },
  });
  const stopSampler = traceRedis ? startDepthSampler(traceRedis, keys, () => workStore.depth()) : undefined;
  const addresses = await relay.listen();
  if (deliver) runner.start();
  log.info({ event: 'SY_RELAY_LISTENING', listen: addresses.map((a) => `${a.address}:${a.port}`) }, 'relay listening');
  return {
    addresses,
    runner,
    reconfigure(next) {
      const nextSigners = dkimSigners(next.connectors); // reads key files: may throw, nothing changed yet
      relay.reconfigure(next); // reads TLS and users files: may throw, nothing changed yet
      resolver.setContext(routingContext(next));
      refill(
        connectors,
        next.connectors.map((c) => [c.name, c]),
      );
      refill(signers, nextSigners);
    },
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

function refill<K, V>(map: Map<K, V>, entries: Iterable<readonly [K, V]>): void {
  map.clear();
  for (const [k, v] of entries) map.set(k, v);
}
