/**
 * The fingerprint set behind a first staging (src/store/fresh-stage.ts): "new" must be certain
 * — a field answered new is written without a script — across growth, for the fingerprint
 * (0, 0) that marks an empty slot, and when sized up front; and a fingerprint is one of
 * the bytes Redis stores (FreshStage: test/unit/fresh-stage.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { fingerprint, FingerprintSet, mixHash, slotsFor } from '../../src/store/fingerprints.js';
import { fnv1a32 } from '../../src/store/shards.js';

describe('FingerprintSet', () => {
  it('answers new once per fingerprint, through several doublings', () => {
    const set = new FingerprintSet();
    const n = 300_000;
    let added = 0;
    for (let i = 0; i < n; i++) if (set.add(i * 7919, i)) added++;
    expect(added).toBe(n);
    expect(set.size).toBe(n);
    let again = 0;
    for (let i = 0; i < n; i++) if (set.add(i * 7919, i)) again++;
    expect(again).toBe(0);
    // same first half, other second half: different fingerprints
    expect(set.add(7919, 2)).toBe(true);
    expect(set.size).toBe(n + 1);
  });

  it('keeps the fingerprint that would mark an empty slot', () => {
    const set = new FingerprintSet();
    expect(set.add(0, 0)).toBe(true);
    expect(set.add(0, 0)).toBe(false);
    // (0, 0) is stored as (0, 1): the two read as one, which only costs a script
    expect(set.add(0, 1)).toBe(false);
  });

  it('is sized up front for what it expects, within a bound', () => {
    expect(slotsFor(1_000_000)).toBe(2 ** 21);
    expect(slotsFor(10)).toBe(2 ** 16);
    expect(slotsFor(1e9)).toBe(2 ** 24);
  });

  it('gives strings Redis stores as one field one fingerprint (lone surrogates are U+FFFD in UTF-8)', () => {
    const same = ['a\uD800@x.example', 'a\uDC00@x.example', 'a\uFFFD@x.example'];
    for (const s of same) expect(Buffer.from(s)).toEqual(Buffer.from(same[0] as string));
    expect(new Set(same.map((s) => mixHash(s, 7))).size).toBe(1);
    expect(new Set(same.map((s) => fnv1a32(s))).size).toBe(1);
    // a well-formed pair is its own character
    expect(mixHash('a\uD83D\uDE00', 7)).not.toBe(mixHash('a\uFFFD\uFFFD', 7));
    expect(mixHash('a\uD83D\uDE00', 7)).not.toBe(mixHash('a\uFFFD', 7));
  });

  it('tells apart the fields of a generated directory (no false "seen")', () => {
    const set = new FingerprintSet();
    let seen = 0;
    for (let i = 0; i < 200_000; i++) {
      for (const a of [`u${i}@contoso.edu`, `u${i}@alias.contoso.edu`, `User.${i}@Contoso.EDU`.toLowerCase()]) {
        if (!set.add(fnv1a32(a), mixHash(a, 0x1b873593))) seen++;
      }
    }
    expect(seen).toBe(0);
    expect(mixHash('a', 1)).not.toBe(mixHash('a', 2));
    expect(mixHash('ab', 1)).not.toBe(mixHash('ba', 1));
  });
});

describe('fingerprint', () => {
  it('is fnv1a32 and mixHash in one pass, for ASCII and for any other text', () => {
    const out = new Int32Array(2);
    const texts = [
      '',
      'a',
      'u12345@contoso.edu',
      'cn=user 1\\, test,ou=staff',
      'josé@bücher.example',
      'a\uD83D\uDE00',
      'lone\uD800x',
      'x\uDC00',
    ];
    for (const s of texts) {
      for (const seed of [0, 0x1b873593, -1]) {
        fingerprint(s, seed, out);
        expect([out[0], out[1]]).toEqual([fnv1a32(s) | 0, mixHash(s, seed)]);
      }
    }
  });
});
