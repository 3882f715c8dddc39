/**
 * Which object has a given address as its targetAddress (outbound sender rewriting,
 * SPEC §5), in one round trip and one table version, as RCPT lookups are done
 * (src/store/lookup.ts, whose version layouts it shares): the client names every key from
 * the layout of the version it last saw; the script answers STALE when the version moved,
 * and the client reloads the layout and asks again. The target index (src/store/targets.ts)
 * answers first; a table of an earlier release, whose snapshots have no index, falls back
 * to the object holding the address whose own target it is.
 */
import { decodeObject } from './codec.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { MOVING, onCurrentVersion, type VersionLayout } from './lookup.js';
import { scripts } from './scripts.js';
import { addressShard } from './shards.js';
import type { RecipientObject } from '../routing/object.js';

export type TargetLookup =
  | { readonly state: 'ok'; readonly version: number; readonly object?: RecipientObject }
  | { readonly state: 'no-table' }
  | { readonly state: 'unavailable'; readonly error: string };

/** target-lookup.lua's keys and arguments after the version check's (`onCurrentVersion`): appended to `k` and `a`. */
function callArgs(keys: Keys, layout: VersionLayout | undefined, targets: readonly string[], k: string[], a: (string | number)[]): void {
  if (!layout) {
    a.push(0);
    return;
  }
  k.push(...layout.objectKeys);
  for (const t of targets) {
    for (const { base, overlay } of layout.states) {
      k.push(keys.snapshotTargets(base.id, addressShard(t, base.shards)));
      if (overlay) k.push(keys.snapshotTargets(overlay.id, addressShard(t, overlay.shards)));
      k.push(keys.snapshotAddresses(base.id, addressShard(t, base.shards)));
      if (overlay) k.push(keys.snapshotAddresses(overlay.id, addressShard(t, overlay.shards)));
    }
  }
  a.push(...layout.stateArgs, ...targets);
}

/** The object whose target is `target` (found only when its target is that address, compared as JavaScript lower-cases). */
function matching(json: string | null | undefined, target: string): RecipientObject | undefined {
  if (!json) return undefined;
  const o = decodeObject(json);
  return o.target?.toLowerCase() === target ? o : undefined;
}

/** Looks up lower-cased bare addresses as targetAddresses in the current version, one round trip for all. */
export async function lookupTargets(redis: RedisClient, keys: Keys, targets: readonly string[]): Promise<TargetLookup[]> {
  const fail = (error: string): TargetLookup[] => targets.map(() => ({ state: 'unavailable', error }));
  try {
    const r = await onCurrentVersion(redis, keys, scripts.targetLookup, (layout, k, a) => callArgs(keys, layout, targets, k, a));
    if (r.state === 'no-table') return targets.map(() => ({ state: 'no-table' }));
    if (r.state === 'moving') return fail(MOVING);
    const { version } = r;
    return targets.map((t, i) => {
      const object = matching(r.values[i], t);
      return object ? { state: 'ok', version, object } : { state: 'ok', version };
    });
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}
