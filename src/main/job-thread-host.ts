/**
 * Runs `switchyard up`'s job processors on a thread of their own (job-thread.ts): a
 * million-object staging then never holds the event loop that answers RCPT lookups (B4:
 * SPEC §8), and the thread runs JOB_THREAD_NICE below the relay's CPU priority. The thread
 * is `up`'s own part: one that fails after starting is an uncaught error of the process,
 * as the same failure of a processor running beside the relay would have been.
 */
import type { Worker } from 'node:worker_threads';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { startThread } from '../directory/thread/host.js';
import { plainError } from '../directory/thread/protocol.js';
import { JOB_THREAD_NICE, type FromJobThread, type JobThreadData, type ToJobThread } from './job-thread-protocol.js';
import type { ProcessorOptions, Processors } from './worker.js';

const SCRIPT = new URL('./job-thread.js', import.meta.url);

export interface JobThreadOptions {
  /** The logger whose component, level and destination the thread's lines take. */
  readonly log: Logger;
  /** Writes one of the thread's log lines (a whole JSON line) to the process's log. */
  readonly writeLine: (line: string) => void;
  /** Added to the thread's nice value (default JOB_THREAD_NICE). */
  readonly nice?: number;
  /** A thread that fails or exits after it started (default: thrown as an uncaught error). */
  readonly onCrash?: (err: Error) => void;
}

/** The processors on their thread, and the thread itself (for the tests of a crash). */
export interface ThreadProcessors extends Processors {
  readonly thread: Worker;
}

/** The thread's error, thrown where nothing catches it: the process's fatal-error path takes it. */
function raise(err: Error): void {
  process.nextTick(() => {
    throw err;
  });
}

export function jobThreadStarter(o: JobThreadOptions): (options: ProcessorOptions) => Promise<ThreadProcessors> {
  const crash = o.onCrash ?? raise;
  return (options: ProcessorOptions) =>
    new Promise<ThreadProcessors>((resolve, reject) => {
      const bound = (o.log.bindings() as { component?: unknown }).component;
      const component = typeof bound === 'string' ? bound : 'up';
      const data: JobThreadData = { options, component, level: o.log.level, nice: o.nice ?? JOB_THREAD_NICE };
      const thread: Worker = startThread(SCRIPT, data);
      let ready = false;
      let stopped: (() => void) | undefined;
      let closing: Promise<void> | undefined;
      let exited = false;
      const answers: { done: () => void; refused: (err: Error) => void }[] = [];
      const send = (m: ToJobThread): void => thread.postMessage(m);
      const processors: ThreadProcessors = {
        thread,
        reconfigure: (config: Config) =>
          new Promise<void>((done, refused) => {
            if (exited) throw new Error('the job thread has ended');
            send({ type: 'reconfigure', config });
            answers.push({ done, refused });
          }),
        close: () =>
          (closing ??= exited
            ? Promise.resolve()
            : new Promise<void>((done) => {
                stopped = done;
                send({ type: 'close' });
              })),
      };
      thread.on('message', (m: FromJobThread) => {
        switch (m.type) {
          case 'log':
            o.writeLine(m.line);
            break;
          case 'ready':
            ready = true;
            o.log.info(
              { event: 'SY_JOB_THREAD_READY', nice: m.nice, ...(m.niceError ? { niceError: m.niceError } : {}) },
              'job processors running on a thread of their own',
            );
            resolve(processors);
            break;
          case 'fail':
            reject(plainError(m.error));
            break;
          case 'reconfigured': {
            const answer = answers.shift();
            if (m.error) answer?.refused(plainError(m.error));
            else answer?.done();
            break;
          }
          case 'closed':
            void thread.terminate();
            break;
        }
      });
      // an error is followed by the exit, and the thread's last messages (the log lines that
      // explain it) are delivered before the exit, not before the error: acted on at the exit
      let failure: Error | undefined;
      thread.on('error', (err) => (failure = err));
      thread.on('exit', (code) => {
        exited = true;
        for (const a of answers.splice(0)) a.refused(new Error('the job thread has ended'));
        if (stopped) {
          if (failure) o.log.error({ event: 'SY_WORKER_ERROR', err: failure.message }, 'the job thread failed while stopping');
          stopped();
        } else if (!ready) reject(failure ?? new Error(`the job thread exited before it was ready (code ${code})`));
        else
          crash(
            failure
              ? new Error('the job thread failed', { cause: failure }) // the log's err serializer adds the cause's message
              : new Error(`the job thread exited (code ${code})`),
          );
      });
    });
}
