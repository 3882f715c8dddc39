/**
 * The targetAddress index of a snapshot (issue 12, SPEC §5 outbound sender rewriting):
 * its `tgt` shards map a lower-cased bare target to the ref of the object whose target it
 * is — the lowest rank when several objects of the source share it (SPEC §3.1) — and
 * `>` + target to a JSON array of the other objects' refs, kept only while there are
 * others, so that a delta that moves the holder away can hand the target to the next one.
 * A target is not an address of the table: the index creates no conflict and changes no
 * address count. Its fields live in the shard of the target's hint (the `>` field too),
 * so Lua never hashes. Snapshots of earlier releases have no index: lookups fall back.
 */
import { addressShard, hintOf } from './shards.js';

/** Prefix of the field listing a target's other claimants (an address never starts with it). */
export const OTHERS_PREFIX = '>';

/** The lower-cased bare target of a stored object's JSON ('' when it has none). */
export function storedTarget(json: string | null | undefined): string {
  if (!json) return '';
  const t = (JSON.parse(json) as { t?: string }).t;
  return t === undefined ? '' : t.toLowerCase();
}

/** A target as script arguments: its hint and itself ('0', '' for none). */
export function targetArgs(lowered: string): [string, string] {
  return lowered === '' ? ['0', ''] : [String(hintOf(lowered)), lowered];
}

/** The shard of a field of a target shard (a target, or `>` + target) in a snapshot of `shards` shards. */
export function targetFieldShard(field: string, shards: number): number {
  return addressShard(field.startsWith(OTHERS_PREFIX) ? field.slice(OTHERS_PREFIX.length) : field, shards);
}
