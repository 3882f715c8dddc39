/** What the reader and its parsing thread (parse-worker.ts) say to each other. */
import type { PostedBatch } from './record-transfer.js';

export interface WorkerData {
  readonly path: string;
  readonly name: string;
}

/** Batches the parsing thread may post ahead of the reader; the reader returns one credit per batch taken. */
export const CREDIT = 4;

export type WorkerMessage =
  | { readonly type: 'batch'; readonly batch: PostedBatch }
  | { readonly type: 'end' }
  | { readonly type: 'fail'; readonly origin: string; readonly reason: string }
  | { readonly type: 'fail'; readonly origin?: undefined; readonly message: string; readonly code?: string };
