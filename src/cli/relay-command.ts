/**
 * `switchyard relay`: the SMTP relay and its deliveries until SIGTERM / SIGINT. With
 * `relay.processes` > 1 this process is the primary of that many relay processes
 * (src/main/relay-processes.ts), which run the same command under node:cluster.
 */
import cluster from 'node:cluster';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createServiceLogger, exitOnFatal } from '../log/service.js';
import { assertAdminListen, processAdmin } from '../main/admin.js';
import { startRelay } from '../main/relay.js';
import { relayProcessCount, reportListening, startRelayProcesses, type RelayProcesses } from '../main/relay-processes.js';
import { startReloader } from '../main/reload.js';
import { relayProcessMetrics } from '../metrics/metrics.js';
import { stopSignal, type ServeFlags } from './command-kit.js';

export async function relayCommand(flags: ServeFlags): Promise<number> {
  const stopped = stopSignal();
  const config = loadConfig(flags.config);
  if (cluster.isWorker) return relayProcess(flags, config, stopped);
  const count = relayProcessCount(config);
  return count > 1 ? relayPrimary(flags, config, count, stopped) : relayAlone(flags, config, stopped);
}

/** One process: the relay, and the admin HTTP when asked for. */
async function relayAlone(flags: ServeFlags, config: Config, stopped: Promise<NodeJS.Signals>): Promise<number> {
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

/** One of the primary's relay processes: no admin (the primary's scrapes sum its counters). */
async function relayProcess(flags: ServeFlags, config: Config, stopped: Promise<NodeJS.Signals>): Promise<number> {
  // the primary passes SIGTERM on, and a service manager may signal the whole group too: a
  // second signal must not cut the drain short (the primary SIGKILLs a process that overstays)
  for (const s of ['SIGTERM', 'SIGINT'] as const) process.on(s, () => undefined);
  const logger = createServiceLogger('relay');
  exitOnFatal(logger);
  const log = logger.log.child({ process: Number(process.env.SWITCHYARD_RELAY_PROCESS) });
  const relay = await startRelay({ config, log, observer: relayProcessMetrics() });
  const reloader = await startReloader({ role: 'relay', file: flags.config, config, log, targets: [relay] });
  reportListening(relay.addresses.map((a) => `${a.address}:${a.port}`));
  const signal = await stopped;
  log.info({ event: 'SY_RELAY_STOPPING', signal }, 'draining SMTP sessions and deliveries');
  await reloader.stop();
  await relay.close();
  await logger.flush();
  cluster.worker?.disconnect(); // the channel to the primary would keep the process alive
  return 0;
}

/** The primary: starts the relay processes, serves the admin HTTP, passes signals on. */
async function relayPrimary(flags: ServeFlags, config: Config, count: number, stopped: Promise<NodeJS.Signals>): Promise<number> {
  const logger = createServiceLogger('relay');
  exitOnFatal(logger);
  const log = logger.log.child({ process: 'primary' });
  if (flags.adminListen) assertAdminListen(config, flags.adminListen);
  const admin = flags.adminListen ? processAdmin(config, log, process.env, { workers: true }) : undefined;
  let relays: RelayProcesses;
  try {
    relays = await startRelayProcesses(count, log);
  } catch (err) {
    await admin?.close();
    throw err;
  }
  const passOn = (): void => relays.reload();
  process.on('SIGHUP', passOn);
  const running = admin ? await admin.listen({ listen: flags.adminListen }) : undefined;
  // the primary's own part of a reload: the status page's address search
  const reloader = admin ? await startReloader({ role: 'relay primary', file: flags.config, config, log, targets: [admin] }) : undefined;
  log.info({ event: 'SY_RELAY_PROCESSES', processes: count, listen: relays.listen }, 'relay processes listening');
  process.stdout.write(`relay listening on ${relays.listen.join(', ')}${running ? `; admin ${running.url}` : ''} (${count} processes)\n`);
  const signal = await stopped;
  log.info({ event: 'SY_RELAY_STOPPING', signal }, 'stopping the relay processes');
  process.off('SIGHUP', passOn);
  await relays.stop(); // first: a process that drains on its own (Ctrl-C reaches all) is not started again
  await reloader?.stop();
  await admin?.close();
  await logger.flush();
  return 0;
}
