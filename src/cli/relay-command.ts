/** `switchyard relay`: the SMTP relay and its deliveries until SIGTERM / SIGINT. */
import { loadConfig } from '../config/load.js';
import { createLogger } from '../log/logger.js';
import { startRelay } from '../main/relay.js';

export async function relayCommand(flags: { config: string }): Promise<number> {
  const config = loadConfig(flags.config);
  const log = createLogger('relay', process.env.LOG_LEVEL ?? 'info');
  const relay = await startRelay({ config, log });
  // the first line on stdout says where it listens (scripts and tests wait for it)
  process.stdout.write(`relay listening on ${relay.addresses.map((a) => `${a.address}:${a.port}`).join(', ')}\n`);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  log.info({ event: 'SY_RELAY_STOPPING', signal }, 'draining SMTP sessions and deliveries');
  await relay.close();
  return 0;
}
