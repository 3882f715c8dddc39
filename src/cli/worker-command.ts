/** `switchyard worker`: run the job processors and schedules until SIGTERM / SIGINT. */
import { loadConfig } from '../config/load.js';
import { createServiceLogger, exitOnFatal } from '../log/service.js';
import { assertAdminListen, processAdmin } from '../main/admin.js';
import { startReloader } from '../main/reload.js';
import { startWorker } from '../main/worker.js';
import { stopSignal } from './command-kit.js';

export async function workerCommand(flags: { config: string; adminListen?: string }): Promise<number> {
  const stopped = stopSignal();
  const config = loadConfig(flags.config);
  const logger = createServiceLogger('worker');
  exitOnFatal(logger);
  const { log } = logger;
  if (flags.adminListen) assertAdminListen(config, flags.adminListen);
  const worker = await startWorker({ config, log });
  const admin = flags.adminListen ? processAdmin(config, log) : undefined;
  const running = await admin?.listen({ queues: worker.queues, listen: flags.adminListen });
  const reloader = await startReloader({ role: 'worker', file: flags.config, config, log, targets: admin ? [worker, admin] : [worker] });
  if (running) log.info({ event: 'SY_ADMIN_LISTENING', url: running.url }, 'admin HTTP listening');
  const signal = await stopped;
  log.info({ event: 'SY_WORKER_STOPPING', signal }, 'finishing active jobs');
  await reloader.stop();
  await worker.close();
  await admin?.close();
  await logger.flush();
  return 0;
}
