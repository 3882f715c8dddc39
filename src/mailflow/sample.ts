/**
 * What the table implies for the mail-flow checks: every targetAddress domain, and a sample
 * of routed recipients per connector (their decision from the resolver, as the relay makes it).
 */
import type { Decision } from '../routing/decide.js';
import type { Resolver } from '../resolver/resolver.js';
import { decodeObject } from '../store/codec.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { hscanSharded } from '../store/sharded.js';
import { readStateLayout } from '../store/snapshot.js';
import { readCurrent } from '../store/table.js';

export interface TableSample {
  readonly targetDomains: readonly string[];
  /** Connector → routed recipients (decisions), at most `perConnector` each. */
  readonly byConnector: ReadonlyMap<string, readonly Decision[]>;
}

/** Scans every object of the current table once (base snapshots; overlays' objects too). */
export async function sampleTable(redis: RedisClient, keys: Keys, resolver: Resolver, perConnector: number): Promise<TableSample> {
  const current = await readCurrent(redis, keys);
  const targets = new Set<string>();
  const byConnector = new Map<string, Decision[]>();
  if (current === undefined) return { targetDomains: [], byConnector };
  for (const raw of current.snapshots.values()) {
    const state = await readStateLayout(redis, keys, raw);
    for (const snap of state.overlay ? [state.base, state.overlay] : [state.base]) {
      for await (const flat of hscanSharded(redis, keys, snap, 'obj', 1000)) {
        const candidates: string[] = [];
        for (let i = 1; i < flat.length; i += 2) {
          if (flat[i] === '') continue; // deleted in an overlay
          const o = decodeObject(flat[i] as string);
          if (o.target !== undefined) targets.add((o.target.split('@')[1] ?? '').toLowerCase());
          const address = o.primary ?? o.addresses[0];
          if (address !== undefined) candidates.push(address);
        }
        if (candidates.length === 0) continue;
        for (const d of await resolver.resolve(candidates, false)) {
          if (d.action !== 'route' || d.connector === undefined) continue;
          const list = byConnector.get(d.connector) ?? [];
          if (list.length < perConnector) list.push(d);
          byConnector.set(d.connector, list);
        }
      }
    }
  }
  targets.delete('');
  return { targetDomains: [...targets].sort(), byConnector };
}
