/** Queue shard ids, the fair claim planner and the Cluster slot of a key (pure). */
import { describe, expect, it } from 'vitest';
import { createClaimPlanner } from '../../src/mailqueue/fair.js';
import { MAX_SHARDS, messageOf, newMessageId, shardOf, unitId } from '../../src/mailqueue/ids.js';
import { keySlot } from '../../src/mailqueue/replicas.js';
import { createKeys } from '../../src/store/keys.js';

describe('queue ids', () => {
  it('carry their shard, also in unit ids and typed in lower case', () => {
    for (const shard of [0, 1, 15, 35, 36, 255, MAX_SHARDS - 1]) {
      const id = newMessageId(shard, 1_800_000_000_000);
      expect(id).toMatch(/^[0-9A-Z]+$/);
      expect(shardOf(id)).toBe(shard);
      expect(shardOf(unitId(id, 3))).toBe(shard);
      expect(shardOf(unitId(id, 3).toLowerCase())).toBe(shard);
      expect(messageOf(unitId(id, 3))).toBe(id);
    }
    expect(() => newMessageId(MAX_SHARDS)).toThrow(RangeError);
  });

  it('are unique across many draws (the random part comes from a pool refilled as it runs out)', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 5000; i++) ids.add(newMessageId(3, 1_800_000_000_000));
    expect(ids.size).toBe(5000);
    for (const id of ids) expect(id).toMatch(/^[0-9A-Z]{8}[0-9A-F]{10}Q03$/);
  });

  it("have their shard's key names built once per namespace, frozen", () => {
    const a = createKeys('ns1');
    expect(a.mqShard(3)).toBe(a.mqShard(3));
    expect(a.mqShard(3).message('M')).toBe('{ns1:q3}:mq:m:M');
    expect(a.mqShard(4).message('M')).toBe('{ns1:q4}:mq:m:M');
    expect(createKeys('ns2').mqShard(3).message('M')).toBe('{ns2:q3}:mq:m:M');
    expect(Object.isFrozen(a.mqShard(3)) && Object.isFrozen(a.mqShard(3).layout2)).toBe(true);
  });

  it('sort by arrival', () => {
    const a = newMessageId(9, 1_800_000_000_000);
    const b = newMessageId(0, 1_800_000_000_001);
    expect(a < b).toBe(true);
  });

  it('put ids of the single-tag layout (no shard suffix) in shard 0, whatever queue.shards is', () => {
    for (const id of ['MI3K7Q2ZABCDEF0123', 'MI3KQQQQ0123456789', 'ZZZZZZZZFFFFFFFFFF']) {
      expect(shardOf(id)).toBe(0);
      expect(shardOf(`${id}.4`)).toBe(0);
    }
  });
});

describe('claim planner', () => {
  it('hands the free slots to every shard when none is known to be empty, rotating the first', () => {
    const p = createClaimPlanner(4, 0);
    expect(p.plan(6)).toEqual([2, 2, 1, 1]);
    expect(p.plan(6)).toEqual([1, 2, 2, 1]);
    expect(p.plan(1)).toEqual([0, 0, 1, 0]);
  });

  it('gives the slots to the shards that reported due work, and never starves one', () => {
    const p = createClaimPlanner(4, 0);
    p.plan(8);
    [0, 50, 0, 3].forEach((due, k) => p.observe(k, due));
    expect(p.more()).toBe(true);
    expect(p.plan(8)).toEqual([0, 4, 0, 4]);
    // one slot at a time: both busy shards take turns
    const served = new Set<number>();
    for (let i = 0; i < 4; i++) served.add(p.plan(1).findIndex((n) => n === 1));
    expect(served).toEqual(new Set([1, 3]));
  });

  it('leaves a shard that failed out for a second, then treats it as possibly busy', () => {
    const p = createClaimPlanner(3, 0);
    p.observe(0, 0, 1000);
    p.observe(1, undefined, 1000);
    p.observe(2, 0, 1000);
    expect(p.more()).toBe(false);
    expect(p.plan(2, 1500)).toEqual([1, undefined, 1]);
    expect(p.plan(2, 2000)).toEqual([0, 2, 0]);
  });

  it('still tries every shard when all of them failed', () => {
    const p = createClaimPlanner(2, 0);
    p.observe(0, undefined, 1000);
    p.observe(1, undefined, 1000);
    expect(p.plan(4, 1200)).toEqual([2, 2]);
  });
});

describe('cluster slots', () => {
  it('match Redis CLUSTER KEYSLOT', () => {
    expect(keySlot('123456789')).toBe(12739);
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
    expect(keySlot('foo{}{bar}')).toBe(keySlot('foo{}{bar}'));
  });

  it('put each queue shard under its own tag, every key of a shard in one slot', () => {
    const keys = createKeys('acme');
    const s = keys.mqShard(3);
    expect(s.tag).toBe('{acme:q3}');
    const slots = new Set(
      [
        s.ready,
        s.active,
        s.held,
        s.pending,
        s.bytes,
        s.reservations,
        s.reservationSizes,
        s.data('X'),
        s.message('X'),
        s.unit('X.0'),
        s.layout2.ready,
      ].map(keySlot),
    );
    expect(slots.size).toBe(1);
    expect(keySlot(keys.mqShard(4).ready)).not.toBe(keySlot(s.ready));
    expect(keys.mqLegacy.ready).toBe('{acme}:mq:ready');
  });
});
