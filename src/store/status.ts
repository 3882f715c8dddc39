/**
 * Read-only views of the table for `status` and `conflicts`: the current version, kept
 * history, per-source snapshot counts, and conflicts (inside one source, recorded when
 * the snapshot was staged; between sources, found by comparing their address sets).
 */
import { rivals } from '../routing/marker.js';
import { decodeObject } from './codec.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { topId } from './ref.js';
import { hgetallSharded, hmgetSharded, hscanSharded, type StateLayout } from './sharded.js';
import { refKey } from './shards.js';
import { readSnapshotMeta, readStateLayout, type SnapshotMeta } from './snapshot.js';
import { readCurrent, readHistory, type TableVersion } from './table.js';

export interface SourceStatus {
  readonly source: string;
  readonly snapshot: string;
  readonly meta?: SnapshotMeta;
}

export interface TableStatus {
  readonly current?: TableVersion;
  readonly history: TableVersion[];
  readonly sources: SourceStatus[];
}

export async function readStatus(redis: RedisClient, keys: Keys): Promise<TableStatus> {
  const current = await readCurrent(redis, keys);
  const history = await readHistory(redis, keys);
  const sources: SourceStatus[] = [];
  for (const [source, snapshot] of current?.snapshots ?? []) {
    const meta = await readSnapshotMeta(redis, keys, topId(snapshot));
    sources.push(meta ? { source, snapshot, meta } : { source, snapshot });
  }
  return current ? { current, history, sources } : { history, sources };
}

export interface ConflictParty {
  readonly source: string;
  readonly id: string;
  readonly dn: string;
}

export interface Conflict {
  readonly address: string;
  readonly winner: ConflictParty;
  readonly quarantined: ConflictParty[];
  readonly scope: 'source' | 'sources';
}

function party(json: string | null | undefined, source: string, ref: string): ConflictParty {
  const key = refKey(ref);
  if (!json) return { source, id: key, dn: key };
  const o = decodeObject(json);
  return { source: o.source, id: o.id, dn: o.dn };
}

/** A source's published state: its full snapshot and, after deltas, the overlay on top. */
interface State {
  readonly source: string;
  readonly ref: StateLayout;
}

/** Current objects of `state` for object refs (overlay version first; '' = deleted). */
async function objectsOf(redis: RedisClient, keys: Keys, state: State, refs: readonly string[]): Promise<(string | null)[]> {
  if (refs.length === 0) return [];
  const base = await hmgetSharded(redis, keys, state.ref.base, 'obj', refs);
  if (!state.ref.overlay) return base;
  const over = await hmgetSharded(redis, keys, state.ref.overlay, 'obj', refs);
  return over.map((v, i) => (v === null ? (base[i] ?? null) : v === '' ? null : v));
}

/** Holders of `addresses` in `state` (overlay entry first; '' = nobody). */
async function holdersOf(redis: RedisClient, keys: Keys, state: State, addresses: readonly string[]): Promise<(string | null)[]> {
  const base = await hmgetSharded(redis, keys, state.ref.base, 'addr', addresses);
  if (!state.ref.overlay) return base;
  const over = await hmgetSharded(redis, keys, state.ref.overlay, 'addr', addresses);
  return over.map((v, i) => (v === null ? (base[i] ?? null) : v === '' ? null : v));
}

async function withinSource(redis: RedisClient, keys: Keys, state: State): Promise<Conflict[]> {
  const entries = await hgetallSharded(redis, keys, state.ref.base, 'conf');
  if (state.ref.overlay) {
    for (const [address, json] of Object.entries(await hgetallSharded(redis, keys, state.ref.overlay, 'conf'))) {
      if (json === '') delete entries[address];
      else entries[address] = json;
    }
  }
  const out: Conflict[] = [];
  for (const [address, json] of Object.entries(entries)) {
    const c = JSON.parse(json) as { w: string; l: string[] };
    const objs = await objectsOf(redis, keys, state, [c.w, ...c.l]);
    out.push({
      address,
      winner: party(objs[0], state.source, c.w),
      quarantined: c.l.map((l, i) => party(objs[i + 1], state.source, l)),
      scope: 'source',
    });
  }
  return out;
}

/** Chunks of the addresses a state may hold: its base's, then those only its overlay has. */
async function* addressChunks(redis: RedisClient, keys: Keys, state: State): AsyncGenerator<string[]> {
  for (const snap of state.ref.overlay ? [state.ref.base, state.ref.overlay] : [state.ref.base]) {
    for await (const flat of hscanSharded(redis, keys, snap, 'addr', 1000)) {
      let addresses = flat.filter((_, i) => i % 2 === 0);
      if (snap !== state.ref.base && addresses.length > 0) {
        const inBase = await hmgetSharded(redis, keys, state.ref.base, 'addr', addresses);
        addresses = addresses.filter((_, i) => inBase[i] === null);
      }
      if (addresses.length > 0) yield addresses;
    }
  }
}

/** Addresses held by more than one source: the lowest rank wins, as in lookup.lua. */
async function betweenSources(redis: RedisClient, keys: Keys, states: State[]): Promise<Conflict[]> {
  const out: Conflict[] = [];
  for (let a = 0; a < states.length; a++) {
    for await (const addresses of addressChunks(redis, keys, states[a] as State)) {
      const holders = await Promise.all(states.map((st) => holdersOf(redis, keys, st, addresses)));
      for (let i = 0; i < addresses.length; i++) {
        // Listed once: when scanning the first source (in name order) that holds the address.
        if (!holders[a]?.[i] || holders.slice(0, a).some((h) => h[i])) continue;
        const hits = states.flatMap((st, b) => {
          const key = holders[b]?.[i];
          return key ? [{ state: st, key }] : [];
        });
        if (hits.length < 2) continue;
        const jsons = await Promise.all(hits.map(async (h) => (await objectsOf(redis, keys, h.state, [h.key]))[0] ?? null));
        const ranked = jsons
          .map((j, k) => ({ j, rank: j ? (JSON.parse(j) as { r: string }).r : '~', key: hits[k]?.key ?? '' }))
          .sort((x, y) => (x.rank < y.rank ? -1 : x.rank > y.rank ? 1 : 0));
        // SPEC §10: a mirror contact beside its origin is no rival
        const parties = ranked.map((h) => ({ ...h, ...(h.j ? decodeObject(h.j) : { source: '', id: h.key }) }));
        const [win, ...lose] = rivals(parties);
        if (!win || lose.length === 0) continue;
        out.push({
          address: addresses[i] as string,
          winner: party(win.j, '', win.key),
          quarantined: lose.map((l) => party(l.j, '', l.key)),
          scope: 'sources',
        });
      }
    }
  }
  return out;
}

export async function listConflicts(redis: RedisClient, keys: Keys): Promise<Conflict[]> {
  const current = await readCurrent(redis, keys);
  if (!current) return [];
  const states: State[] = await Promise.all(
    [...current.snapshots.entries()]
      .sort(([x], [y]) => (x < y ? -1 : 1))
      .map(async ([source, raw]) => ({ source, ref: await readStateLayout(redis, keys, raw) })),
  );
  const inside = (await Promise.all(states.map((st) => withinSource(redis, keys, st)))).flat();
  const across = states.length > 1 ? await betweenSources(redis, keys, states) : [];
  return [...inside, ...across].sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : 0));
}
