/**
 * Read-only views of the table for `status` and `conflicts`: the current version, kept
 * history, per-source snapshot counts, and conflicts (inside one source, recorded when
 * the snapshot was staged; between sources, found by comparing their address sets).
 */
import { decodeObject } from './codec.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { readSnapshotMeta, type SnapshotMeta } from './snapshot.js';
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
    const meta = await readSnapshotMeta(redis, keys, snapshot);
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

function party(json: string | null | undefined, source: string, key: string): ConflictParty {
  if (!json) return { source, id: key, dn: key };
  const o = decodeObject(json);
  return { source: o.source, id: o.id, dn: o.dn };
}

async function withinSource(redis: RedisClient, keys: Keys, source: string, snap: string): Promise<Conflict[]> {
  const entries = await redis.hgetall(keys.snapshotConflicts(snap));
  const out: Conflict[] = [];
  for (const [address, json] of Object.entries(entries)) {
    const c = JSON.parse(json) as { w: string; l: string[] };
    const objs = await redis.hmget(keys.snapshotObjects(snap), c.w, ...c.l);
    out.push({
      address,
      winner: party(objs[0], source, c.w),
      quarantined: c.l.map((l, i) => party(objs[i + 1], source, l)),
      scope: 'source',
    });
  }
  return out;
}

/** Addresses held by more than one source: the lowest rank wins, as in lookup-1.lua. */
async function betweenSources(redis: RedisClient, keys: Keys, snaps: [string, string][]): Promise<Conflict[]> {
  const out: Conflict[] = [];
  for (let a = 0; a < snaps.length; a++) {
    const [, snapA] = snaps[a] as [string, string];
    let cursor = '0';
    do {
      const [next, flat] = await redis.hscan(keys.snapshotAddresses(snapA), cursor, 'COUNT', 1000);
      cursor = next;
      const addresses = flat.filter((_, i) => i % 2 === 0);
      if (addresses.length === 0) continue;
      const holders = await Promise.all(
        snaps.map(([, s], b) => (b === a ? Promise.resolve(flat.filter((_, i) => i % 2 === 1)) : redis.hmget(keys.snapshotAddresses(s), ...addresses))),
      );
      for (let i = 0; i < addresses.length; i++) {
        // Listed once: when scanning the first source (in name order) that holds the address.
        if (holders.slice(0, a).some((h) => h[i])) continue;
        const hits = snaps.flatMap(([, s], b) => {
          const key = holders[b]?.[i];
          return key ? [{ snap: s, key }] : [];
        });
        if (hits.length < 2) continue;
        const jsons = await Promise.all(hits.map((h) => redis.hget(keys.snapshotObjects(h.snap), h.key)));
        const ranked = jsons
          .map((j, k) => ({ j, rank: j ? (JSON.parse(j) as { r: string }).r : '~', key: hits[k]?.key ?? '' }))
          .sort((x, y) => (x.rank < y.rank ? -1 : x.rank > y.rank ? 1 : 0));
        const [win, ...lose] = ranked;
        if (!win) continue;
        out.push({ address: addresses[i] as string, winner: party(win.j, '', win.key), quarantined: lose.map((l) => party(l.j, '', l.key)), scope: 'sources' });
      }
    } while (cursor !== '0');
  }
  return out;
}

export async function listConflicts(redis: RedisClient, keys: Keys): Promise<Conflict[]> {
  const current = await readCurrent(redis, keys);
  if (!current) return [];
  const snaps = [...current.snapshots.entries()].sort(([x], [y]) => (x < y ? -1 : 1));
  const inside = (await Promise.all(snaps.map(([source, snap]) => withinSource(redis, keys, source, snap)))).flat();
  const across = snaps.length > 1 ? await betweenSources(redis, keys, snaps) : [];
  return [...inside, ...across].sort((x, y) => (x.address < y.address ? -1 : x.address > y.address ? 1 : 0));
}
