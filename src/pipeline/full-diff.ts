/**
 * What a full publish removes, and the whole diff of a full dry run (SPEC §3.4): the old
 * form of each changed object and every removed object, read on a dry run only.
 */
import type { RecipientObject } from '../routing/object.js';
import { decodeObject } from '../store/codec.js';
import { hmgetSharded, hscanSharded, type SnapshotLayout, type StateLayout } from '../store/sharded.js';
import { DiffCollector, type DryRunDiff } from './dry-run.js';
import { storedObjects } from './invalid.js';
import type { PublishDeps } from './types.js';

/** Up to `limit` objects (DN, addresses) of the old state (base, overlay on top) that `id` no longer has. */
export async function removedObjects(
  deps: PublishDeps,
  id: SnapshotLayout,
  old: StateLayout,
  limit: number,
): Promise<{ dn: string; addresses: string[] }[]> {
  const { redis, keys } = deps;
  const out: { dn: string; addresses: string[] }[] = [];
  for (const snap of old.overlay ? [old.overlay, old.base] : [old.base]) {
    for await (const flat of hscanSharded(redis, keys, snap, 'obj', 500)) {
      const refs = flat.filter((_, i) => i % 2 === 0);
      const present = await hmgetSharded(redis, keys, id, 'obj', refs);
      // a base object the overlay changed or deleted is judged by its overlay entry
      const shadowed = snap === old.base && old.overlay ? await hmgetSharded(redis, keys, old.overlay, 'obj', refs) : [];
      present.forEach((v, i) => {
        const json = flat[i * 2 + 1] as string;
        if (v !== null || json === '' || shadowed[i] != null || out.length >= limit) return;
        const o = JSON.parse(json) as { d: string; a: string[] };
        out.push({ dn: o.d, addresses: o.a });
      });
      if (out.length >= limit) return out;
    }
  }
  return out;
}

/** The dry run's diff: the old form of each changed object is read here, on a dry run only. */
export async function dryRunDiff(
  deps: PublishDeps,
  id: SnapshotLayout,
  old: StateLayout | undefined,
  staged: { added: RecipientObject[]; changed: RecipientObject[] },
  removed: number,
  newConflicts: string[],
): Promise<DryRunDiff> {
  const diff = new DiffCollector();
  for (const o of staged.added) diff.add(o);
  if (old !== undefined) {
    const before = await storedObjects(
      deps,
      old,
      staged.changed.map((o) => o.id),
    );
    for (const o of staged.changed) {
      const json = before.get(o.id.toLowerCase());
      if (json !== undefined) diff.change(decodeObject(json), o);
    }
    if (removed > 0) for (const o of await removedObjects(deps, id, old, removed)) diff.remove(o);
  }
  diff.newConflicts = newConflicts;
  return diff.result();
}
