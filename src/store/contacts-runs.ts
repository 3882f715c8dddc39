/** The last `contacts apply` of each GAL-sync direction, kept for `status` (SPEC §10). */
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

export interface ContactsRun {
  readonly from: string;
  readonly to: string;
  readonly ou: string;
  readonly at: string;
  readonly ok: boolean;
  readonly dryRun: boolean;
  readonly durationMs: number;
  readonly counts?: Record<string, number>;
  /** The first conflicts and write errors (all of them are in the job's result and the command's output). */
  readonly conflicts?: readonly { address: string; contactDn: string; holderDn: string }[];
  readonly errors?: readonly { op: string; dn: string; error: string }[];
  readonly error?: string;
}

export const CONTACTS_REPORT_LIMIT = 100;

export async function recordContactsRun(redis: RedisClient, keys: Keys, run: ContactsRun): Promise<void> {
  const kept = { ...run, conflicts: run.conflicts?.slice(0, CONTACTS_REPORT_LIMIT), errors: run.errors?.slice(0, CONTACTS_REPORT_LIMIT) };
  await redis.hset(keys.contactsRuns, `${run.from}>${run.to}`, JSON.stringify(kept));
}

export async function readContactsRuns(redis: RedisClient, keys: Keys): Promise<ContactsRun[]> {
  return Object.values(await redis.hgetall(keys.contactsRuns)).map((v) => JSON.parse(v) as ContactsRun);
}
