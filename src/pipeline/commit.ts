/**
 * The last step of every publish (full snapshot or delta overlay): record the state's
 * counts, switch the table version atomically (refused if the source moved meanwhile),
 * mark the snapshot complete, collect what no kept version references.
 */
import { collectGarbage } from '../store/gc.js';
import { writeSnapshotMeta, type SnapshotMeta } from '../store/snapshot.js';
import { publish } from '../store/table.js';
import type { PublishDeps } from './types.js';

export interface Commit {
  readonly source: string;
  /** The snapshot being published. */
  readonly id: string;
  /** What the version will point at: the snapshot, or `base+overlay`. */
  readonly ref: string;
  /** The source's state the change was computed against (undefined: none). */
  readonly expected: string | undefined;
  readonly cause: 'import' | 'sync';
  readonly meta: Omit<SnapshotMeta, 'state'>;
}

export async function commitSnapshot(deps: PublishDeps, c: Commit): Promise<number> {
  const { redis, keys } = deps;
  // Counts go with the snapshot before it is published, so `status` always has them;
  // 'complete' (collectable once unreferenced) is set only after the publish.
  await writeSnapshotMeta(redis, keys, c.id, { ...c.meta, state: 'staging' });
  const { version } = await publish(redis, keys, {
    source: c.source,
    snapshot: c.ref,
    expected: c.expected,
    keep: deps.versionsKept,
    ...(deps.keepForMs !== undefined ? { keepForMs: deps.keepForMs } : {}),
    meta: { publishedAt: new Date().toISOString(), cause: c.cause, source: c.source },
  });
  // Published: what follows is housekeeping, and must not make the caller discard it.
  await writeSnapshotMeta(redis, keys, c.id, { ...c.meta, state: 'complete' }).catch(() => undefined);
  await collectGarbage(redis, keys).catch(() => undefined);
  return version;
}
