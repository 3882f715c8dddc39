/** `switchyard up`: worker, scheduler, relay and admin HTTP in one process until SIGTERM. */
import { loadConfig } from '../config/load.js';
import { createServiceLogger, exitOnFatal } from '../log/service.js';
import { startReloader } from '../main/reload.js';
import { startUp } from '../main/up.js';
import { stopSignal } from './command-kit.js';

export async function upCommand(flags: { config: string; adminListen?: string }): Promise<number> {
  const stopped = stopSignal();
  const config = loadConfig(flags.config);
  const logger = createServiceLogger('up');
  exitOnFatal(logger);
  const { log } = logger;
  const up = await startUp({ config, log, writeLine: logger.write, ...(flags.adminListen ? { adminListen: flags.adminListen } : {}) });
  const reloader = await startReloader({ role: 'up', file: flags.config, config, log, targets: [up] });
  process.stdout.write(
    `relay listening on ${up.relay.addresses.map((a) => `${a.address}:${a.port}`).join(', ')}\nstatus page ${up.admin.url}\n`,
  );
  const signal = await stopped;
  log.info({ event: 'SY_UP_STOPPING', signal }, 'stopping');
  await reloader.stop();
  await up.close();
  await logger.flush();
  return 0;
}
