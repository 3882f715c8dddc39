/**
 * FreshStage's choice of what a first staging writes without a script: an object whose every
 * field is new, never one with a field claimed before (by a written or a refused object), and
 * nothing once its fingerprints are full. The equivalence with stage.lua on a real Redis is
 * test/integration/fresh-stage.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { RecipientObject } from '../../src/routing/object.js';
import { FreshStage } from '../../src/store/fresh-stage.js';
import { createKeys } from '../../src/store/keys.js';
import type { RedisClient } from '../../src/store/redis.js';

describe('FreshStage', () => {
  const object = (i: number, addresses = [`u${i}@contoso.edu`, `u${i}@alias.contoso.edu`]): RecipientObject => ({
    source: 'corp',
    id: `CN=u${i}`,
    dn: `CN=u${i}`,
    kind: 'mailbox',
    addresses,
  });
  // no Redis is reached: only `add` runs here
  const stage = (maxFields: number): FreshStage =>
    new FreshStage({} as RedisClient, createKeys('t'), { id: '1', shards: 4 }, { maxFields });

  it('writes plainly what fits, then sends every later object to stage.lua, fitting or not', () => {
    const s = stage(9); // an object asks room for 4 fields here (identity, two addresses, a target)
    expect([0, 1, 2, 3].map((i) => s.add(object(i), 10))).toEqual([true, true, false, false]);
    expect(s.pending).toBe(2);
    // an object with a single address would still fit the bound: refused all the same
    expect(s.add(object(4, ['x@contoso.edu']), 10)).toBe(false);
  });

  it('refuses an identity or address that UTF-8 makes the same as one claimed (lone surrogates)', () => {
    const s = stage(1000);
    expect(s.add(object(1, ['a\uD800@contoso.edu']), 10)).toBe(true);
    expect(s.add(object(2, ['a\uDC00@contoso.edu']), 10)).toBe(false);
    expect(s.add({ ...object(3), id: 'CN=\uDC00', dn: 'CN=\uDC00' }, 10)).toBe(true);
    expect(s.add({ ...object(4), id: 'CN=\uD800', dn: 'CN=\uD800' }, 10)).toBe(false);
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
