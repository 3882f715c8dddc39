/** `switchyard up`: worker, scheduler, relay and admin HTTP in one process until SIGTERM. */
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { startReloader } from '../main/reload.js';
import { startUp } from '../main/up.js';

export async function upCommand(flags: { config: string; adminListen?: string }): Promise<number> {
  const config = loadConfig(flags.config);
  const log = createLogger('up', process.env.LOG_LEVEL ?? 'info');
  const up = await startUp({ config, log, ...(flags.adminListen ? { adminListen: flags.adminListen } : {}) });
  const reloader = await startReloader({ role: 'up', file: flags.config, config, log, targets: [up] });
  process.stdout.write(
    `relay listening on ${up.relay.addresses.map((a) => `${a.address}:${a.port}`).join(', ')}\nstatus page ${up.admin.url}\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info({ event: 'SY_UP_STOPPING', signal }, 'stopping');
  await reloader.stop();
  await up.close();
  return 0;
}
