/**
 * What `switchyard up` and the thread running its job processors say to each other
 * (job-thread-host.ts, job-thread.ts): the thread's log lines, that it is ready or failed to
 * start, and the answers to a reload and to a stop.
 */
import type { Config } from '../config/schema.js';
import type { PostedError } from '../directory/thread/protocol.js';
import type { ProcessorOptions } from './worker.js';

/** How much lower than `up`'s own CPU priority the job thread runs (the systemd worker unit's Nice=10). */
export const JOB_THREAD_NICE = 10;

export interface JobThreadData {
  readonly options: ProcessorOptions;
  /** The logger's component and level, for the thread's own logger. */
  readonly component: string;
  readonly level: string;
  /** Added to the thread's nice value (capped at 19). */
  readonly nice: number;
}

export type ToJobThread = { readonly type: 'reconfigure'; readonly config: Config } | { readonly type: 'close' };

export type FromJobThread =
  | { readonly type: 'log'; readonly line: string }
  /** `nice`: the thread's nice value now; `niceError` when it could not be lowered. */
  | { readonly type: 'ready'; readonly nice: number; readonly niceError?: string }
  | { readonly type: 'fail'; readonly error: PostedError }
  /** `error`: the reload could not be applied (the thread keeps the configuration it had). */
  | { readonly type: 'reconfigured'; readonly error?: PostedError }
  | { readonly type: 'closed' };
