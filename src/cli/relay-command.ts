/** `switchyard relay`: the SMTP relay and its deliveries until SIGTERM / SIGINT. */
import { loadConfig } from '../config/load.js';
import { createServiceLogger, exitOnFatal } from '../log/service.js';
import { assertAdminListen, processAdmin } from '../main/admin.js';
import { startRelay } from '../main/relay.js';
import { startReloader } from '../main/reload.js';
import { stopSignal } from './command-kit.js';

export async function relayCommand(flags: { config: string; adminListen?: string }): Promise<number> {
  const stopped = stopSignal();
  const config = loadConfig(flags.config);
  const logger = createServiceLogger('relay');
  exitOnFatal(logger);
  const { log } = logger;
  if (flags.adminListen) assertAdminListen(config, flags.adminListen);
  const admin = flags.adminListen ? processAdmin(config, log) : undefined;
  const relay = await startRelay({ config, log, ...(admin ? { observer: admin.metrics.observer } : {}) });
  const running = admin ? await admin.listen({ listen: flags.adminListen }) : undefined;
  const reloader = await startReloader({ role: 'relay', file: flags.config, config, log, targets: admin ? [relay, admin] : [relay] });
  // the first line on stdout says where it listens (scripts and tests wait for it)
  process.stdout.write(
    `relay listening on ${relay.addresses.map((a) => `${a.address}:${a.port}`).join(', ')}${running ? `; admin ${running.url}` : ''}\n`,
  );
  const signal = await stopped;
  log.info({ event: 'SY_RELAY_STOPPING', signal }, 'draining SMTP sessions and deliveries');
  await reloader.stop();
  await relay.close();
  await admin?.close();
  await logger.flush();
  return 0;
}
