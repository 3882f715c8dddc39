/**
 * RCPT lookups in one round trip. The client keeps the layout of the version it last
 * saw (per source: base and overlay snapshot ids and their shard counts) and names every
 * key the addresses imply; the script answers only if that version is still current,
 * else it says which one is, and the client loads that layout and asks again (bounded).
 * A lookup therefore reads one version only (SPEC §3.2).
 */
import { decodeObject } from './codec.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { runScript, scripts, type Script } from './scripts.js';
import { readLayouts } from './snapshot.js';
import { lookupStates, type SnapshotLayout, type StateLayout } from './sharded.js';
import { addressShard } from './shards.js';
import { parseRef } from './ref.js';
import type { LookupResult } from '../routing/decide.js';
import type { RecipientObject } from '../routing/object.js';

/** What a lookup of one version needs, computed once per version. */
export interface VersionLayout {
  readonly version: string;
  /** The version and the table's epoch, 'version/epoch', as the lookup scripts check them (ARGV[1]). */
  readonly stamp: string;
  /** The sources with a published state (a full snapshot) in this version. */
  readonly sources: readonly string[];
  readonly states: readonly StateLayout[];
  /** KEYS[3..]: each state's base object shards, then its overlay's. */
  readonly objectKeys: readonly string[];
  /** ARGV[2..]: the state count, then NB, NO per state. */
  readonly stateArgs: readonly number[];
}

/** Layouts by Keys object (one per namespace and process): a cache, not shared state. */
const cache = new WeakMap<Keys, VersionLayout>();

/** A version of the table changes under the lookup more often than this: answer 451. */
const ATTEMPTS = 4;
export const MOVING = 'the table version changed during every attempt of the lookup';

/** Snapshot layouts of a version; undefined when a snapshot went with the version (dropped meanwhile). */
async function loadLayouts(redis: RedisClient, keys: Keys, version: string, ids: string[]): Promise<SnapshotLayout[] | undefined> {
  try {
    return await readLayouts(redis, keys, ids);
  } catch (err) {
    if ((await redis.exists(keys.version(version))) === 0) return undefined;
    throw err;
  }
}

/** Loads a version's layout; undefined when the version is no longer kept (moved on again). */
export async function loadVersionLayout(redis: RedisClient, keys: Keys, version: string): Promise<VersionLayout | undefined> {
  // the epoch with it: a table wiped and published again reuses version numbers (read apart,
  // a wipe in between shows as STALE at the next lookup, which loads the layout again)
  const [fields, epoch] = await Promise.all([redis.hgetall(keys.version(version)), redis.get(keys.tableEpoch)]);
  const entries = Object.entries(fields)
    .filter(([f]) => f.startsWith('s:'))
    .sort(([x], [y]) => (x < y ? -1 : 1));
  const raws = entries.map(([, v]) => v);
  const sources = entries.map(([f]) => f.slice(2));
  if (Object.keys(fields).length === 0) return undefined;
  const refs = raws.map(parseRef);
  const layouts = await loadLayouts(
    redis,
    keys,
    version,
    refs.flatMap((r) => (r.overlay ? [r.base, r.overlay] : [r.base])),
  );
  if (!layouts) return undefined;
  const { states, objectKeys, stateArgs } = lookupStates(
    keys,
    refs.map((r) => r.overlay !== undefined),
    layouts,
  );
  return { version, stamp: `${version}/${epoch ?? ''}`, sources, states, objectKeys, stateArgs };
}

/** lookup.lua's keys and arguments after the version check's (`onCurrentVersion`): appended to `k` and `a`. */
function callArgs(keys: Keys, layout: VersionLayout | undefined, addresses: readonly string[], k: string[], a: (string | number)[]): void {
  if (!layout) {
    a.push(0);
    return;
  }
  k.push(...layout.objectKeys);
  for (const address of addresses) {
    for (const st of layout.states) {
      k.push(keys.snapshotAddresses(st.base.id, addressShard(address, st.base.shards)));
      if (st.overlay) k.push(keys.snapshotAddresses(st.overlay.id, addressShard(address, st.overlay.shards)));
    }
  }
  a.push(...layout.stateArgs, ...addresses);
}

/** What a lookup script said of the current version (`moving`: it changed during every attempt). */
export type VersionReply =
  | {
      readonly state: 'ok';
      readonly version: number;
      readonly layout: VersionLayout | undefined;
      readonly values: readonly (string | null)[];
    }
  | { readonly state: 'no-table' }
  | { readonly state: 'moving' };

/**
 * Runs a lookup script on the current version: its keys named from the cached layout of the
 * version last seen; when the script answers STALE, the current version's layout is loaded
 * and the script asked again (bounded). Throws what Redis throws. The version check is this
 * function's: KEYS[1] the pointer, KEYS[2] the table's epoch, ARGV[1] the layout's stamp
 * ('' without one); `call` appends the script's own keys and arguments after them.
 */
export async function onCurrentVersion(
  redis: RedisClient,
  keys: Keys,
  script: Script,
  call: (layout: VersionLayout | undefined, k: string[], a: (string | number)[]) => void,
): Promise<VersionReply> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const layout = cache.get(keys);
    const k = [keys.current, keys.tableEpoch];
    const a: (string | number)[] = [layout?.stamp ?? ''];
    call(layout, k, a);
    const reply = (await runScript(redis, script, k, a)) as (string | null)[];
    const head = reply[0];
    if (head === null || head === undefined) return { state: 'no-table' };
    if (head === 'STALE') {
      const next = await loadVersionLayout(redis, keys, String(reply[1]));
      if (next) cache.set(keys, next);
      continue;
    }
    return { state: 'ok', version: Number(head), layout, values: reply.slice(1) };
  }
  return { state: 'moving' };
}

/** Looks up lower-cased addresses in the current version, one round trip for all (while the version holds). */
export async function lookup(redis: RedisClient, keys: Keys, addressKeys: readonly string[]): Promise<LookupResult[]> {
  const fail = (error: string): LookupResult[] => addressKeys.map(() => ({ state: 'unavailable', error }));
  try {
    const r = await onCurrentVersion(redis, keys, scripts.lookup, (layout, k, a) => callArgs(keys, layout, addressKeys, k, a));
    if (r.state === 'no-table') return addressKeys.map(() => ({ state: 'no-table' }));
    if (r.state === 'moving') return fail(MOVING);
    const { version } = r;
    const sources = r.layout?.sources ?? [];
    return addressKeys.map((_, i) => {
      const json = r.values[i];
      const object: RecipientObject | undefined = json ? decodeObject(json) : undefined;
      return object ? { state: 'ok', version, sources, object } : { state: 'ok', version, sources };
    });
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }
}
