/** The target index's field rules (src/store/targets.ts): pure. */
import { describe, expect, it } from 'vitest';
import { addressShard, hintOf } from '../../src/store/shards.js';
import { OTHERS_PREFIX, storedTarget, targetArgs, targetFieldShard } from '../../src/store/targets.js';

describe('target index fields', () => {
  it('keeps a target and the list of its other holders in the same shard, whatever the shard count', () => {
    for (const target of ['alice@live.contoso.edu', 'bob@live.contoso.edu', 'chloé@live.contoso.edu']) {
      for (const shards of [1, 2, 8, 64, 256]) {
        expect(targetFieldShard(target, shards)).toBe(addressShard(target, shards));
        expect(targetFieldShard(OTHERS_PREFIX + target, shards)).toBe(addressShard(target, shards));
      }
    }
  });

  it('reads the lower-cased target of a stored object, and passes it with its hint', () => {
    expect(storedTarget('{"s":"corp","t":"Alice@Live.Contoso.edu"}')).toBe('alice@live.contoso.edu');
    expect(storedTarget('{"s":"corp"}')).toBe('');
    expect(storedTarget('')).toBe('');
    expect(targetArgs('alice@live.contoso.edu')).toEqual([String(hintOf('alice@live.contoso.edu')), 'alice@live.contoso.edu']);
    expect(targetArgs('')).toEqual(['0', '']);
  });
});
