/**
 * `switchyard up`: everything on one machine from one config — the worker (jobs and
 * schedules), the relay with its deliveries, and the admin HTTP (status page, metrics,
 * job dashboard) — in one process.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { createMetrics } from '../metrics/metrics.js';
import { startAdmin, type RunningAdmin } from '../admin/server.js';
import { createResolver } from '../resolver/resolver.js';
import { routingContext } from '../routing/decide.js';
import { createKeys } from '../store/keys.js';
import { createRedis } from '../store/redis.js';
import { adminToken } from './admin-token.js';
import { startRelay, type RunningRelay } from './relay.js';
import { startWorker, type WorkerProcess } from './worker.js';

export interface Up {
  readonly relay: RunningRelay;
  readonly worker: WorkerProcess;
  readonly admin: RunningAdmin;
  close(): Promise<void>;
}

export async function startUp(opts: { config: Config; log: Logger; env?: NodeJS.ProcessEnv; adminListen?: string; pollMs?: number }): Promise<Up> {
  const { config, log } = opts;
  const env = opts.env ?? process.env;
  const keys = createKeys(config.redis.namespace);
  const adminRedis = createRedis(config.redis, 'lookup', env);
  adminRedis.on('error', () => undefined); // /healthz reports it
  const metrics = createMetrics({ redis: adminRedis, keys });
  const worker = await startWorker({ config, log: log.child({ part: 'worker' }), env });
  const relay = await startRelay({ config, log: log.child({ part: 'relay' }), env, observer: metrics.observer, ...(opts.pollMs ? { pollMs: opts.pollMs } : {}) });
  const token = adminToken(config, env);
  const admin = await startAdmin(
    {
      config,
      redis: adminRedis,
      keys,
      resolver: createResolver({ redis: adminRedis, keys, context: routingContext(config) }),
      metrics,
      logger: log.child({ part: 'admin' }),
      queues: worker.queues,
      ...(token !== undefined ? { token } : {}),
    },
    opts.adminListen,
  );
  log.info({ event: 'SY_UP_READY', admin: admin.url, relay: relay.addresses.map((a) => `${a.address}:${a.port}`) }, 'switchyard up');
  return {
    relay,
    worker,
    admin,
    async close() {
      await relay.close();
      await worker.close();
      await admin.close();
      adminRedis.disconnect();
    },
  };
}
