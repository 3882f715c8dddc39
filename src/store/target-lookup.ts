/**
 * Which object has a given address as its targetAddress (outbound sender rewriting,
 * SPEC §5), in one round trip and one table version, as RCPT lookups are done
 * (src/store/lookup.ts): the client keeps the layout of the version it last saw and names
 * every key; the script answers STALE when the version moved, and the client reloads the
 * layout and asks again. The target index (src/store/targets.ts) answers first; a table
 * of an earlier release, whose snapshots have no index, falls back to the object holding
 * the address whose own target it is.
 */
import { decodeObject } from './codec.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { parseRef } from './ref.js';
import { runScript, scripts } from './scripts.js';
import { lookupStates, type StateLayout } from './sharded.js';
import { addressShard } from './shards.js';
import { readLayouts } from './snapshot.js';
import type { RecipientObject } from '../routing/object.js';

interface TargetLayout {
  readonly version: string;
  readonly states: readonly StateLayout[];
  /** KEYS[2..]: each state's base object shards, then its overlay's. */
  readonly objectKeys: readonly string[];
  /** ARGV[2..]: the state count, then NB, NO per state. */
  readonly stateArgs: readonly number[];
}

export type TargetLookup =
  | { readonly state: 'ok'; readonly version: number; readonly object?: RecipientObject }
  | { readonly state: 'no-table' }
  | { readonly state: 'unavailable'; readonly error: string };

/** Layouts by Keys object (one per namespace and process): a cache, not shared state. */
const cache = new WeakMap<Keys, TargetLayout>();

/** A version of the table changes under the lookup more often than this: unavailable. */
const ATTEMPTS = 4;

/** A version's layout; undefined when the version is no longer kept (it moved on again). */
async function loadLayout(redis: RedisClient, keys: Keys, version: string): Promise<TargetLayout | undefined> {
  const fields = await redis.hgetall(keys.version(version));
  if (Object.keys(fields).length === 0) return undefined;
  const refs = Object.entries(fields)
    .filter(([f]) => f.startsWith('s:'))
    .sort(([x], [y]) => (x < y ? -1 : 1))
    .map(([, v]) => parseRef(v));
  const layouts = await readLayouts(
    redis,
    keys,
    refs.flatMap((r) => (r.overlay ? [r.base, r.overlay] : [r.base])),
  );
  const { states, objectKeys, stateArgs } = lookupStates(
    keys,
    refs.map((r) => r.overlay !== undefined),
    layouts,
  );
  return { version, states, objectKeys, stateArgs };
}

function callArgs(keys: Keys, layout: TargetLayout | undefined, targets: readonly string[]): { k: string[]; a: (string | number)[] } {
  if (!layout) return { k: [keys.current], a: ['', 0] };
  const k = [keys.current, ...layout.objectKeys];
  for (const t of targets) {
    for (const { base, overlay } of layout.states) {
      k.push(keys.snapshotTargets(base.id, addressShard(t, base.shards)));
      if (overlay) k.push(keys.snapshotTargets(overlay.id, addressShard(t, overlay.shards)));
      k.push(keys.snapshotAddresses(base.id, addressShard(t, base.shards)));
      if (overlay) k.push(keys.snapshotAddresses(overlay.id, addressShard(t, overlay.shards)));
    }
  }
  return { k, a: [layout.version, ...layout.stateArgs, ...targets] };
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
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const { k, a } = callArgs(keys, cache.get(keys), targets);
      const reply = (await runScript(redis, scripts.targetLookup, k, a)) as (string | null)[];
      const head = reply[0];
      if (head === null || head === undefined) return targets.map(() => ({ state: 'no-table' }));
      if (head === 'STALE') {
        const next = await loadLayout(redis, keys, String(reply[1]));
        if (next) cache.set(keys, next);
        continue;
      }
      const version = Number(head);
      return targets.map((t, i) => {
        const object = matching(reply[i + 1], t);
        return object ? { state: 'ok', version, object } : { state: 'ok', version };
      });
    }
    return fail('the table version changed during every attempt of the lookup');
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}
