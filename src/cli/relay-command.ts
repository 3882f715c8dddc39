/** `switchyard relay`: the SMTP relay and its deliveries until SIGTERM / SIGINT. */
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { assertAdminListen, processAdmin } from '../main/admin.js';
import { startRelay } from '../main/relay.js';
import { startReloader } from '../main/reload.js';

export async function relayCommand(flags: { config: string; adminListen?: string }): Promise<number> {
  const config = loadConfig(flags.config);
  const log = createLogger('relay', process.env.LOG_LEVEL ?? 'info');
  if (flags.adminListen) assertAdminListen(config, flags.adminListen);
  const admin = flags.adminListen ? processAdmin(config, log) : undefined;
  const relay = await startRelay({ config, log, ...(admin ? { observer: admin.metrics.observer } : {}) });
  const running = admin ? await admin.listen({ listen: flags.adminListen }) : undefined;
  const reloader = await startReloader({ role: 'relay', file: flags.config, config, log, targets: admin ? [relay, admin] : [relay] });
  // the first line on stdout says where it listens (scripts and tests wait for it)
  process.stdout.write(
    `relay listening on ${relay.addresses.map((a) => `${a.address}:${a.port}`).join(', ')}${running ? `; admin ${running.url}` : ''}\n`,
  );
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info({ event: 'SY_RELAY_STOPPING', signal }, 'draining SMTP sessions and deliveries');
  await reloader.stop();
  await relay.close();
  await admin?.close();
  return 0;
}
