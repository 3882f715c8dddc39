/**
 * How a snapshot's hashes are split (issue 9): every snapshot has N shards (a power of
 * two, chosen when it is created and kept in its meta) of its address, object and
 * conflict hashes, so that no hash grows past ~10^5 entries and no rehash step stalls a
 * lookup. Shards are computed here, in TypeScript only: a field's *hint* is the low byte
 * of FNV-1a 32 of its UTF-8 bytes, and its shard in a snapshot of N shards is
 * `hint % N`. An object is referred to everywhere in Redis (object hash field, address
 * hash value, conflict entries) by its *ref* `"<hint>:<object key>"`, so Lua finds an
 * object's shard in any snapshot from the ref alone, without hashing.
 */

/** Shards of one snapshot never exceed this (the hint is one byte). */
export const MAX_SHARDS = 256;
/** Entries per shard a new snapshot is sized for (growth of half again stays below ~10^5). */
export const SHARD_TARGET = 65_536;

/** FNV-1a 32 of the UTF-8 bytes of `s`. */
export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 0x01000193);
      continue;
    }
    if (c >= 0xd800 && c < 0xe000) {
      const lo = c < 0xdc00 && i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (lo >= 0xdc00 && lo < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      } else {
        c = 0xfffd; // a lone surrogate encodes as U+FFFD, as Buffer.from does
      }
    }
    const bytes =
      c < 0x800
        ? [0xc0 | (c >> 6), 0x80 | (c & 63)]
        : c < 0x10000
          ? [0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)]
          : [0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63)];
    for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  }
  return h >>> 0;
}

/** The shard hint of a field (a lower-cased address, or an object key). */
export function hintOf(field: string): number {
  return hashHint(fnv1a32(field));
}

/** The shard hint of a field whose fnv1a32 is `hash` (signed or not): its low byte. */
export function hashHint(hash: number): number {
  return hash & (MAX_SHARDS - 1);
}

/** The shard of a hint in a snapshot of `shards` shards. */
export function shardOfHint(hint: number, shards: number): number {
  return hint & (shards - 1);
}

/** The shard of a lower-cased address. */
export function addressShard(address: string, shards: number): number {
  return shardOfHint(hintOf(address), shards);
}

/** The stored reference to an object: its hint, a colon, its key. */
export function objectRef(key: string): string {
  return hashedRef(key, fnv1a32(key));
}

/** objectRef of a key whose fnv1a32 is already known. */
export function hashedRef(key: string, hash: number): string {
  return `${hashHint(hash)}:${key}`;
}

/** The object key of a ref. */
export function refKey(ref: string): string {
  return ref.slice(ref.indexOf(':') + 1);
}

/** The shard of an object ref in a snapshot of `shards` shards. */
export function refShard(ref: string, shards: number): number {
  return shardOfHint(Number(ref.slice(0, ref.indexOf(':'))), shards);
}

/** The smallest power of two that keeps `entries` at most SHARD_TARGET per shard. */
export function chooseShards(entries: number): number {
  let n = 1;
  while (n < MAX_SHARDS && entries / n > SHARD_TARGET) n *= 2;
  return n;
}
