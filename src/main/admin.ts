/** The admin HTTP of a process (up, relay or worker), with its own fail-fast Redis client. */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { AdminListenError, startAdmin, type RunningAdmin } from '../admin/server.js';
import { adminListenProblem } from '../admin/security.js';
import { splitHostPort } from '../config/host-port.js';
import { createMetrics, type Metrics } from '../metrics/metrics.js';
import type { Queues } from '../jobqueue/queues.js';
import { createResolver } from '../resolver/resolver.js';
import { routingContext } from '../routing/decide.js';
import { createKeys } from '../store/keys.js';
import { connected, createRedis } from '../store/redis.js';
import { adminToken } from './admin-token.js';

export interface ProcessAdmin {
  readonly metrics: Metrics;
  /** Starts listening (after the parts it reports on exist). */
  listen(opts: { queues?: Queues; listen?: string }): Promise<RunningAdmin>;
  /** A reloaded configuration's domains and connectors for the status page's address search. */
  reconfigure(config: Config): void;
  close(): Promise<void>;
}

/**
 * Refuses, before anything starts, an admin that would listen off loopback without a token
 * (`admin.listen` or a command's `--admin-listen`).
 */
export function assertAdminListen(config: Config, listen: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  const where = listen ?? config.admin.listen;
  const { host } = splitHostPort(where, 8025);
  const problem = adminListenProblem(
    where,
    host,
    adminToken(config, env) !== undefined,
    listen === undefined ? undefined : '--admin-listen',
  );
  if (problem) throw new AdminListenError(problem);
}

/** `workers`: the primary of `relay.processes` > 1, whose scrapes sum its relay processes' counters. */
export function processAdmin(
  config: Config,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
  opts: { workers?: boolean } = {},
): ProcessAdmin {
  const keys = createKeys(config.redis.namespace);
  const redis = createRedis(config.redis, 'lookup', env);
  redis.on('error', () => undefined); // /healthz reports it
  const metrics = createMetrics({ redis, keys, queueShards: config.queue.shards, sources: config.sources, workers: opts.workers === true });
  const resolver = createResolver({ redis, keys, context: routingContext(config) });
  let running: RunningAdmin | undefined;
  return {
    metrics,
    async listen(opts) {
      const token = adminToken(config, env);
      // the fail-fast client answers nothing until it has connected: without this wait a
      // probe in the first milliseconds reads "Redis unavailable" (503) from a healthy
      // process; a Redis that is really down still lets the admin start and report it
      await connected(redis, 3000).catch(() => undefined);
      running = await startAdmin(
        {
          config,
          redis,
          keys,
          resolver,
          metrics,
          logger: log.child({ part: 'admin' }),
          ...(opts.queues ? { queues: opts.queues } : {}),
          ...(token !== undefined ? { token } : {}),
        },
        opts.listen,
      );
      return running;
    },
    reconfigure(next) {
      resolver.setContext(routingContext(next));
    },
    async close() {
      await running?.close();
      redis.disconnect();
    },
  };
}
