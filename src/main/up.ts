/**
 * `switchyard up`: everything on one machine from one config — the worker (jobs and
 * schedules), the relay with its deliveries, and the admin HTTP (status page, metrics,
 * job dashboard) — in one process. The job processors run on a thread of their own at a
 * lower CPU priority (job-thread-host.ts), so a sync never holds the relay's event loop.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { RunningAdmin } from '../admin/server.js';
import { assertAdminListen, processAdmin } from './admin.js';
import { jobThreadStarter } from './job-thread-host.js';
import { startRelay, type RunningRelay } from './relay.js';
import { startWorker, type WorkerProcess } from './worker.js';

export interface Up {
  readonly relay: RunningRelay;
  readonly worker: WorkerProcess;
  readonly admin: RunningAdmin;
  /** Applies a reloaded configuration to the relay, the worker and the admin's address search. */
  reconfigure(config: Config): Promise<void>;
  close(): Promise<void>;
}

export async function startUp(opts: {
  config: Config;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  adminListen?: string;
  pollMs?: number;
  /** Writes a log line of the job thread (default: to stderr, as pino's destination does). */
  writeLine?: (line: string) => void;
}): Promise<Up> {
  const { config, log } = opts;
  const env = opts.env ?? process.env;
  assertAdminListen(config, opts.adminListen, env);
  if (config.relay.processes !== 1) {
    log.warn(
      { event: 'SY_CONFIG_NOTICE', key: 'relay.processes', value: config.relay.processes },
      '`switchyard up` runs one relay process; relay.processes applies to `switchyard relay`',
    );
  }
  const admin = processAdmin(config, log, env);
  const writeLine = opts.writeLine ?? ((line: string) => void process.stderr.write(line));
  const worker = await startWorker({
    config,
    log: log.child({ part: 'worker' }),
    env,
    startProcessors: jobThreadStarter({ log, writeLine }),
  });
  const relay = await startRelay({
    config,
    log: log.child({ part: 'relay' }),
    env,
    observer: admin.metrics.observer,
    ...(opts.pollMs ? { pollMs: opts.pollMs } : {}),
  });
  const running = await admin.listen({ queues: worker.queues, ...(opts.adminListen ? { listen: opts.adminListen } : {}) });
  log.info({ event: 'SY_UP_READY', admin: running.url, relay: relay.addresses.map((a) => `${a.address}:${a.port}`) }, 'switchyard up');
  return {
    relay,
    worker,
    admin: running,
    async reconfigure(next) {
      relay.reconfigure(next); // the part that can refuse (certificate, users file): first
      await worker.reconfigure(next);
      admin.reconfigure(next);
    },
    async close() {
      await relay.close();
      await worker.close();
      await admin.close();
    },
  };
}
