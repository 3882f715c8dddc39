/**
 * What a reader and the thread it reads on (host.ts, port.ts) say to each other: batches,
 * then the end with the read's result, or a failure. The reader returns one credit per batch
 * it takes; the thread posts at most CREDIT batches ahead, so a large read never piles up.
 */

/** Batches a reading thread may post ahead of the reader. */
export const CREDIT = 4;

/** An error as it crosses threads: its class name and own fields (the reader's side rebuilds it). */
export interface PostedError {
  readonly kind: string;
  readonly message: string;
  readonly fields: Readonly<Record<string, string | number | boolean>>;
}

export type ThreadMessage<P, R> =
  | { readonly type: 'batch'; readonly batch: P }
  | { readonly type: 'end'; readonly result: R }
  | { readonly type: 'fail'; readonly error: PostedError };

export function postedError(err: unknown): PostedError {
  if (!(err instanceof Error)) return { kind: 'Error', message: String(err), fields: {} };
  const fields: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(err)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') fields[k] = v;
  return { kind: err.constructor.name, message: err.message, fields };
}

/** A plain Error with the posted message and fields (code …): for kinds the reader does not rebuild. */
export function plainError(posted: PostedError): Error {
  return Object.assign(new Error(posted.message), posted.fields);
}
