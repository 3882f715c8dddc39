/**
 * Every object of one source in the current table version, in batches read from its
 * object shards (HSCAN), so a million objects never sit in memory at once. After deltas,
 * the overlay's version of an object wins and an overlay '' means deleted.
 */
import type { RecipientObject } from '../routing/object.js';
import { decodeObject } from './codec.js';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import { hmgetSharded, hscanSharded } from './sharded.js';
import { readStateLayout } from './snapshot.js';
import { readCurrent } from './table.js';

export class SourceNotInTableError extends Error {
  readonly code = 'SY_SOURCE_NOT_IN_TABLE';
}

export async function* sourceObjects(redis: RedisClient, keys: Keys, source: string, count = 1000): AsyncGenerator<RecipientObject[]> {
  const current = await readCurrent(redis, keys);
  const raw = current?.snapshots.get(source);
  if (raw === undefined) throw new SourceNotInTableError(`source "${source}" has no published state in the table: sync or import it first`);
  const state = await readStateLayout(redis, keys, raw);
  for await (const flat of hscanSharded(redis, keys, state.base, 'obj', count)) {
    const refs = flat.filter((_, i) => i % 2 === 0);
    const over = state.overlay ? await hmgetSharded(redis, keys, state.overlay, 'obj', refs) : [];
    const out: RecipientObject[] = [];
    refs.forEach((_, i) => {
      const json = over[i] ?? flat[2 * i + 1];
      if (json !== undefined && json !== '') out.push(decodeObject(json));
    });
    if (out.length > 0) yield out;
  }
  if (!state.overlay) return;
  // objects only the overlay has (added by deltas)
  for await (const flat of hscanSharded(redis, keys, state.overlay, 'obj', count)) {
    const refs = flat.filter((_, i) => i % 2 === 0);
    const inBase = await hmgetSharded(redis, keys, state.base, 'obj', refs);
    const out = refs.flatMap((_, i) => {
      const json = flat[2 * i + 1];
      return inBase[i] === null && json !== undefined && json !== '' ? [decodeObject(json)] : [];
    });
    if (out.length > 0) yield out;
  }
}
