/** `switchyard worker`: run the job processors and schedules until SIGTERM / SIGINT. */
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { assertAdminListen, processAdmin } from '../main/admin.js';
import { startReloader } from '../main/reload.js';
import { startWorker } from '../main/worker.js';

export async function workerCommand(flags: { config: string; adminListen?: string }): Promise<number> {
  const config = loadConfig(flags.config);
  const log = createLogger('worker', process.env.LOG_LEVEL ?? 'info');
  if (flags.adminListen) assertAdminListen(config, flags.adminListen);
  const worker = await startWorker({ config, log });
  const admin = flags.adminListen ? processAdmin(config, log) : undefined;
  const running = await admin?.listen({ queues: worker.queues, listen: flags.adminListen });
  const reloader = await startReloader({ role: 'worker', file: flags.config, config, log, targets: admin ? [worker, admin] : [worker] });
  if (running) log.info({ event: 'SY_ADMIN_LISTENING', url: running.url }, 'admin HTTP listening');
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ event: 'SY_WORKER_STOPPING', signal }, 'finishing active jobs');
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await reloader.stop();
  await worker.close();
  await admin?.close();
  return 0;
}
