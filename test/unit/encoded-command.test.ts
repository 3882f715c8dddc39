/**
 * EncodedCommand writes the bytes ioredis's own Command writes, for every argument list:
 * ASCII strings (its own encoding), non-ASCII strings, numbers and Buffers (left to ioredis).
 * Scripts run through it against a real Redis in the import, delta and relay tests.
 */
import { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { asciiResp, EncodedCommand, PackedCommand, respBulks } from '../../src/store/encoded-command.js';

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

describe('PackedCommand', () => {
  const packed = (key: string, fields: string[], keyPrefix?: string): Buffer =>
    new PackedCommand('hset', key, respBulks(fields), fields.length, keyPrefix ? { keyPrefix } : {}).toWritable();
  const own = (key: string, fields: string[], keyPrefix?: string): Buffer =>
    bytes(new Command('hset', [key, ...fields], keyPrefix ? { keyPrefix } : {}).toWritable({}));

  it('writes, byte for byte, what ioredis writes for the whole argument list', () => {
    const cases: [string, string[]][] = [
      ['{sy}:snap:3:addr:1', ['u1@contoso.edu', '17:cn=u1', 'u2@contoso.edu', '17:cn=u2']],
      ['{sy}:snap:3:obj:0', ['0:cn=x', '{"s":"corp","a":["x@contoso.edu"],"r":"0000990|1|~|cn=x\u0000cn=x"}']],
      ['{sy}:snap:3:addr:2', ['josé@bücher.example', '3:cn=josé', '😀@x.example', '', 'a\r\nb', '4:k']],
      ['{sÿ}:snap:4:tgt:0', ['t@live.contoso.edu', '9:cn=t']],
    ];
    for (const [key, fields] of cases) expect(packed(key, fields)).toEqual(own(key, fields));
  });

  it("carries the client's key prefix, and only its key as ioredis's argument (its slot)", () => {
    expect(packed('{sy}:k', ['f', 'v'], 'pre:')).toEqual(own('{sy}:k', ['f', 'v'], 'pre:'));
    const c = new PackedCommand('hset', '{sy}:k', respBulks(['f', 'v']), 2, {});
    expect(c.args).toEqual(['{sy}:k']);
    expect(c.getSlot()).toBe(new Command('hset', ['{sy}:k', 'f', 'v']).getSlot());
  });
});
