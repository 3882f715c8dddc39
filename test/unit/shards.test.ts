/** The shard of a field, as src/store/shards.ts computes it for the scripts. */
import { describe, expect, it } from 'vitest';
import {
  addressShard,
  chooseShards,
  fnv1a32,
  hintOf,
  MAX_SHARDS,
  objectRef,
  refKey,
  refShard,
  SHARD_TARGET,
} from '../../src/store/shards.js';

/** FNV-1a 32 over Buffer's UTF-8 bytes: the reference. */
function reference(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193);
  return h >>> 0;
}

describe('shards', () => {
  it('FNV-1a 32 of the UTF-8 bytes, for ASCII, accents, astral characters and lone surrogates', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    for (const s of [
      'ada.lovelace@contoso.edu',
      'élodie@contoso.edu',
      'łukasz@żółw.pl',
      '用户@例子.广告',
      'x😀y@z',
      'a\ud800b',
      'end\udc00',
    ]) {
      expect(fnv1a32(s)).toBe(reference(s));
    }
  });

  it('a shard is the hint modulo a power of two, the same for every field of a ref', () => {
    const a = 'u12345@contoso.edu';
    expect(hintOf(a)).toBe(reference(a) & (MAX_SHARDS - 1));
    expect(addressShard(a, 1)).toBe(0);
    expect(addressShard(a, 16)).toBe(reference(a) & 15);
    const ref = objectRef('cn=user 1,dc=contoso,dc=edu');
    expect(ref).toBe(`${hintOf('cn=user 1,dc=contoso,dc=edu')}:cn=user 1,dc=contoso,dc=edu`);
    expect(refKey(ref)).toBe('cn=user 1,dc=contoso,dc=edu');
    expect(refKey('7:a:b')).toBe('a:b');
    expect(refShard(ref, 8)).toBe(hintOf('cn=user 1,dc=contoso,dc=edu') & 7);
  });

  it('chooses the fewest shards that keep each under the target', () => {
    expect(chooseShards(0)).toBe(1);
    expect(chooseShards(SHARD_TARGET)).toBe(1);
    expect(chooseShards(SHARD_TARGET + 1)).toBe(2);
    expect(chooseShards(1_000_000)).toBe(16);
    expect(chooseShards(1e12)).toBe(MAX_SHARDS);
  });

  it('spreads addresses evenly', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) {
      const s = addressShard(`u${i}@contoso.edu`, 16);
      counts[s] = (counts[s] ?? 0) + 1;
    }
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });
});
