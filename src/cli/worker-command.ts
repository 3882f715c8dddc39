/** `switchyard worker`: run the job processors and schedules until SIGTERM / SIGINT. */
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { startWorker } from '../main/worker.js';

export async function workerCommand(flags: { config: string }): Promise<number> {
  const config = loadConfig(flags.config);
  const log = createLogger('worker', process.env.LOG_LEVEL ?? 'info');
  const worker = await startWorker({ config, log });
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ event: 'SY_WORKER_STOPPING', signal }, 'finishing active jobs');
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await worker.close();
  return 0;
}
