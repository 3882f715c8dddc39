import { describe, expect, it } from 'vitest';
import { deletionGuard } from '../../src/routing/guard.js';

const base = { source: 's', previous: 100, removed: 0, threshold: 500 };

describe('deletionGuard on addresses (SPEC §3.3)', () => {
  it('refuses removing more than 10 % of the addresses while every object stays, saying how many and how to force', () => {
    expect(deletionGuard({ ...base, previousAddresses: 300, removedAddresses: 60 })).toMatch(
      /^refused: 60 of 300 addresses \(20\.0 %\) of source "s" would be removed, more than 10 % of its addresses; the table is unchanged\..*--allow-mass-delete/,
    );
  });
  it('allows 10 % of the addresses exactly, and any removal from a source that had none', () => {
    expect(deletionGuard({ ...base, previousAddresses: 300, removedAddresses: 30 })).toBeUndefined();
    expect(deletionGuard({ ...base, previous: 0, previousAddresses: 0, removedAddresses: 0 })).toBeUndefined();
  });
  it('the deletionThreshold counts objects only: many addresses under 10 % pass', () => {
    expect(
      deletionGuard({ ...base, previous: 100_000, threshold: 500, previousAddresses: 300_000, removedAddresses: 20_000 }),
    ).toBeUndefined();
  });
  it('the object rules come first; emptying a source that had objects is refused', () => {
    expect(deletionGuard({ ...base, removed: 20, previousAddresses: 300, removedAddresses: 60 })).toMatch(/20 of 100 objects/);
    expect(deletionGuard({ ...base, previous: 1, removed: 1, previousAddresses: 1, removedAddresses: 1 })).toMatch(
      /1 of 1 objects .* it would empty the source/,
    );
  });
});
