/**
 * EncodedCommand writes the bytes ioredis's own Command writes, for every argument list:
 * ASCII strings (its own encoding), non-ASCII strings, numbers and Buffers (left to ioredis).
 * Scripts run through it against a real Redis in the import, delta and relay tests.
 */
import { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { asciiResp, EncodedCommand } from '../../src/store/encoded-command.js';

const bytes = (w: string | Buffer): Buffer => (typeof w === 'string' ? Buffer.from(w) : w);
type Arg = string | number | Buffer;
const ours = (name: string, args: Arg[]): Buffer => bytes(new EncodedCommand(name, [...args]).toWritable({}));
const theirs = (name: string, args: Arg[]): Buffer => bytes(new Command(name, [...args]).toWritable({}));

describe('EncodedCommand', () => {
  it('writes a script call of ASCII strings itself, byte for byte as ioredis', () => {
    const args = [
      '0123abcd',
      '3',
      'sy:{bench}:snap:2:obj:0',
      'sy:{bench}:snap:2:addr:0',
      '',
      '{"s":"bench","a":["u5@contoso.edu"]}',
      'x\r\ny',
    ];
    expect(asciiResp('evalsha', args)).toBe(theirs('evalsha', args).toString('latin1'));
    expect(ours('evalsha', args)).toEqual(theirs('evalsha', args));
    expect(ours('ping', [])).toEqual(theirs('ping', []));
  });

  it('leaves non-ASCII strings, numbers and Buffers to ioredis (byte counts differ from lengths)', () => {
    for (const args of [['josé@bücher.example', '1'], ['\u0080'], ['😀', 'a'], [12, 'a', 0], [Buffer.from([0, 255, 10]), 'a']] as Arg[][]) {
      expect(asciiResp('evalsha', args)).toBeUndefined();
      expect(ours('evalsha', args)).toEqual(theirs('evalsha', args));
    }
  });
});
