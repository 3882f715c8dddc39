/**
 * Redis connections from the configuration: a single server, Sentinel or Cluster.
 * Three profiles (STYLE §7): `lookup` fails fast for the RCPT path and CLI answers;
 * `accept` fails fast too, with room for a whole message, for the relay's queue writes;
 * `worker` waits out Redis restarts for long-running jobs.
 */
import { Redis, Cluster, type RedisOptions } from 'ioredis';
import { splitHostPort, type HostPort } from '../config/host-port.js';
import type { Config } from '../config/schema.js';

export type RedisClient = Redis | Cluster;
export type RedisProfile = 'lookup' | 'accept' | 'worker';

const redisHostPort = (hp: string): HostPort => splitHostPort(hp, 6379);

function profileOptions(profile: RedisProfile): RedisOptions {
  if (profile === 'lookup')
    return { enableOfflineQueue: false, commandTimeout: 1000, connectTimeout: 2000, maxRetriesPerRequest: 1, lazyConnect: false };
  // the relay's queue writes before 250: fail fast too (the client gets 451), but a whole
  // message of up to maxMessageSize must fit in the timeout
  if (profile === 'accept')
    return { enableOfflineQueue: false, commandTimeout: 15_000, connectTimeout: 2000, maxRetriesPerRequest: 1, lazyConnect: false };
  return { maxRetriesPerRequest: null, connectTimeout: 5000 };
}

export function redisPassword(config: Config['redis'], env: NodeJS.ProcessEnv = process.env): string | undefined {
  return config.passwordEnv !== undefined ? env[config.passwordEnv] : undefined;
}

export function createRedis(config: Config['redis'], profile: RedisProfile, env: NodeJS.ProcessEnv = process.env): RedisClient {
  const base: RedisOptions = { ...profileOptions(profile), password: redisPassword(config, env) };
  if (config.cluster) {
    return new Cluster(config.cluster.nodes.map(redisHostPort), {
      redisOptions: base,
      enableOfflineQueue: profile === 'worker',
    });
  }
  if (config.sentinel) {
    return new Redis({ ...base, sentinels: config.sentinel.sentinels.map(redisHostPort), name: config.sentinel.name });
  }
  return new Redis(config.url ?? 'redis://127.0.0.1:6379', base);
}

/**
 * Waits until the client is connected, or rejects with the connection error: at the first
 * failed attempt with `failFast` (CLI answers), else when `timeoutMs` has passed.
 */
export async function connected(client: RedisClient, timeoutMs = 3000, failFast = false): Promise<void> {
  if (client.status === 'ready') return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`Redis not reachable within ${timeoutMs} ms`)), timeoutMs);
    const onReady = (): void => done();
    const onError = (err: Error): void => {
      if (failFast || (client.status !== 'connecting' && client.status !== 'reconnecting')) done(err);
      else lastError = err;
    };
    let lastError: Error | undefined;
    function done(err?: Error): void {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
      if (err) reject(lastError ?? err);
      else resolve();
    }
    client.on('ready', onReady);
    client.on('error', onError);
  });
}
