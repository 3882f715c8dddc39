/** src/cache/bounded-memo.ts: the function's own answers, each computed once while kept, and never more than `max` kept. */
import { describe, expect, it } from 'vitest';
import { boundedMemo } from '../../src/cache/bounded-memo.js';

describe('boundedMemo', () => {
  it('answers as the function does, computing a kept key once, and starts again past max', () => {
    const calls: string[] = [];
    const memo = boundedMemo((key: string) => {
      calls.push(key);
      return key.length === 0 ? undefined : key.toUpperCase();
    }, 3);
    expect([memo('a'), memo('b'), memo('a'), memo('')]).toEqual(['A', 'B', 'A', undefined]);
    expect(memo('')).toBeUndefined(); // an undefined answer is kept like any other
    expect(calls).toEqual(['a', 'b', '']);
    expect(memo('c')).toBe('C'); // the fourth key: the three kept are dropped
    expect(memo('c')).toBe('C');
    expect(memo('a')).toBe('A');
    expect(calls).toEqual(['a', 'b', '', 'c', 'a']);
  });
});
