/**
 * The thread `switchyard up` runs its job processors on (started by job-thread-host.ts): a
 * sync or an import keeps its own event loop busy, not the relay's, and runs at a lower CPU
 * priority, as the systemd worker unit does with Nice=10 (on Linux a nice value belongs to a
 * thread, and the threads it starts, such as the Csvde parsing thread, inherit it). Its log
 * lines go to the host, which writes them with its own.
 */
import { getPriority, setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { deepFreeze } from '../config/load.js';
import { censoredChildren, loggerOptions } from '../log/logger.js';
import { postedError } from '../directory/thread/protocol.js';
import type { FromJobThread, JobThreadData, ToJobThread } from './job-thread-protocol.js';
import { startProcessors, type Processors } from './worker.js';

const port = parentPort;
if (port === null) throw new Error('job-thread.js runs as a worker thread of `switchyard up`');
const data = workerData as JobThreadData;
const post = (m: FromJobThread): void => port.postMessage(m);

/** Lowers this thread's priority by `by` (0 = this thread on Linux); the error when it could not. */
function lower(by: number): string | undefined {
  try {
    setPriority(0, Math.min(19, getPriority(0) + by));
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const niceError = data.nice > 0 ? lower(data.nice) : undefined;
const destination = { write: (line: string): void => post({ type: 'log', line }) };
const log = censoredChildren(pino(loggerOptions(data.component, data.level), destination)).child({ part: 'worker' });

let processors: Processors;
try {
  processors = await startProcessors({ ...data.options, config: deepFreeze(data.options.config) }, log);
} catch (err) {
  post({ type: 'fail', error: postedError(err) });
  process.exit(1); // ends this thread only; the message posted before it is delivered first
}
port.on('message', (m: ToJobThread) => {
  if (m.type === 'reconfigure') {
    // a reload that cannot be applied is refused, as it would be in one thread; never the thread's end
    void (async () => processors.reconfigure(deepFreeze(m.config)))().then(
      () => post({ type: 'reconfigured' }),
      (err: unknown) => post({ type: 'reconfigured', error: postedError(err) }),
    );
  } else void processors.close().then(() => post({ type: 'closed' })); // a failure: the thread's error, which the host logs
});
post({ type: 'ready', nice: getPriority(0), ...(niceError !== undefined ? { niceError } : {}) });
