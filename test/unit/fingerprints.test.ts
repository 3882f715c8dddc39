/**
 * The fingerprint set behind a first staging (src/store/fresh-stage.ts): "new" must be certain
 * — a field answered new is written without a script — across growth, for the fingerprint
 * (0, 0) that marks an empty slot, and when sized up front; and FreshStage's choice of what
 * it writes without a script (the equivalence with stage.lua is test/integration/fresh-stage.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { RecipientObject } from '../../src/routing/object.js';
import { FingerprintSet, mixHash } from '../../src/store/fingerprints.js';
import { FreshStage } from '../../src/store/fresh-stage.js';
import { createKeys } from '../../src/store/keys.js';
import type { RedisClient } from '../../src/store/redis.js';
import { fnv1a32 } from '../../src/store/shards.js';

describe('FingerprintSet', () => {
  it('answers new once per fingerprint, through several doublings', () => {
    const set = new FingerprintSet();
    const startBytes = set.bytes;
    const n = 300_000;
    let added = 0;
    for (let i = 0; i < n; i++) if (set.add(i * 7919, i)) added++;
    expect(added).toBe(n);
    expect(set.size).toBe(n);
    expect(set.bytes).toBeGreaterThan(startBytes);
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
    expect(new FingerprintSet(1_000_000).bytes).toBe(8 * 2 ** 21);
    expect(new FingerprintSet(10).bytes).toBe(8 * 2 ** 16);
    expect(new FingerprintSet(1e9).bytes).toBe(8 * 2 ** 24);
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

describe('FreshStage past its bound', () => {
  const object = (i: number, addresses = [`u${i}@contoso.edu`, `u${i}@alias.contoso.edu`]): RecipientObject => ({
    source: 'corp',
    id: `CN=u${i}`,
    dn: `CN=u${i}`,
    kind: 'mailbox',
    addresses,
  });
  // no Redis is reached: only `add` runs here
  const stage = (maxFields: number): FreshStage => new FreshStage({} as RedisClient, createKeys('t'), { id: '1', shards: 4 }, 0, maxFields);

  it('writes plainly what fits, then sends every later object to stage.lua, fitting or not', () => {
    const s = stage(9); // an object asks room for 4 fields here (identity, two addresses, a target)
    expect([0, 1, 2, 3].map((i) => s.add(object(i), 10))).toEqual([true, true, false, false]);
    expect(s.pending).toBe(2);
    expect(s.claims.fields).toBe(6);
    // an object with a single address would still fit the bound: refused all the same
    expect(s.add(object(4, ['x@contoso.edu']), 10)).toBe(false);
  });

  it('refuses an object one of whose fields was claimed, and claims its other fields', () => {
    const s = stage(1000);
    expect(s.add(object(1), 10)).toBe(true);
    expect(s.add(object(2, ['u2@contoso.edu', 'U1@Contoso.edu']), 10)).toBe(false);
    // u2@contoso.edu was claimed by the refused object: a later holder goes to stage.lua too
    expect(s.add(object(3, ['u2@contoso.edu']), 10)).toBe(false);
    expect(s.add(object(4), 10)).toBe(true);
    expect(s.pending).toBe(2);
  });
});
