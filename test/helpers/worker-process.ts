/**
 * A worker in a process of its own, with short lock times, for fault tests that kill it:
 *   node --import tsx test/helpers/worker-process.ts CONFIG
 * Prints "ready" on stdout once it consumes the queues.
 */
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startWorker } from '../../src/main/worker.js';

const [configFile] = process.argv.slice(2);
if (!configFile) throw new Error('usage: worker-process CONFIG');
const worker = await startWorker({
  config: loadConfig(configFile),
  log: createLogger('test-worker-process', 'silent'),
  lockDurationMs: 2000,
  stalledIntervalMs: 1000,
  sourceLockTtlMs: 3000,
});
process.stdout.write('ready\n');
process.once('SIGTERM', () => void worker.close().then(() => process.exit(0)));
