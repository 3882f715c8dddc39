/**
 * EncodedCommand writes the bytes ioredis's own Command writes, for every argument list:
 * ASCII strings (its own encoding), non-ASCII strings, numbers and Buffers (left to ioredis).
 * Scripts run through it against a real Redis in the import, delta and relay tests.
 */
import { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { asciiResp, EncodedCommand, PackedCommand, respBulks, respCommand } from '../../src/store/encoded-command.js';

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

describe('respBulks', () => {
  it('writes each argument as ioredis does, after the head it is given', () => {
    const args = ['', 'a', 'b'.repeat(10), 'é', 'c\r\nd'];
    const theirBulks = (list: string[]): Buffer => theirs('x', list).subarray(theirs('x', []).length);
    expect(respBulks(args)).toEqual(theirBulks(args));
    expect(respBulks(args, 3)).toEqual(theirBulks(args.slice(3)));
    expect(respBulks(['f'], 0, '*2\r\n')).toEqual(Buffer.concat([Buffer.from('*2\r\n'), theirBulks(['f'])]));
  });
});

describe('PackedCommand', () => {
  const packed = (key: string, fields: string[], keyPrefix?: string): Buffer =>
    new PackedCommand('hset', key, respCommand('hset', key, fields), fields.length, keyPrefix ? { keyPrefix } : {}).toWritable();
  const own = (key: string, fields: string[], keyPrefix?: string): Buffer =>
    bytes(new Command('hset', [key, ...fields], keyPrefix ? { keyPrefix } : {}).toWritable({}));

  it('writes, byte for byte, what ioredis writes for the whole argument list', () => {
    const cases: [string, string[]][] = [
      ['{sy}:snap:3:addr:1', ['u1@contoso.edu', '17:cn=u1', 'u2@contoso.edu', '17:cn=u2']],
      ['{sy}:snap:3:obj:0', ['0:cn=x', '{"s":"corp","a":["x@contoso.edu"],"r":"0000990|1|~|cn=x\u0000cn=x"}']],
      ['{sy}:snap:3:addr:2', ['josé@bücher.example', '3:cn=josé', '😀@x.example', '', 'a\r\nb', '4:k']],
      ['{sÿ}:snap:4:tgt:0', ['t@live.contoso.edu', '9:cn=t']],
      // lengths of one to five digits, an empty value, a non-ASCII argument after ASCII ones
      ['{sy}:snap:5:obj:3', ['', 'x'.repeat(9), 'y'.repeat(10), 'z'.repeat(99), 'w'.repeat(100), 'v'.repeat(12345)]],
      ['{sy}:snap:5:addr:0', ['a@contoso.edu', '1:cn=a', 'ü@contoso.edu', '2:cn=\u00fc', 'lone\ud800@x.example', '3:k']],
    ];
    for (const [key, fields] of cases) expect(packed(key, fields)).toEqual(own(key, fields));
  });

  it("carries the client's key prefix, and only its key as ioredis's argument (its slot)", () => {
    expect(packed('{sy}:k', ['f', 'v'], 'pre:')).toEqual(own('{sy}:k', ['f', 'v'], 'pre:'));
    expect(packed('{sÿ}:k', ['f', 'ü'], 'prë:')).toEqual(own('{sÿ}:k', ['f', 'ü'], 'prë:'));
    const c = new PackedCommand('hset', '{sy}:k', respCommand('hset', '{sy}:k', ['f', 'v']), 2, {});
    expect(c.args).toEqual(['{sy}:k']);
    expect(c.getSlot()).toBe(new Command('hset', ['{sy}:k', 'f', 'v']).getSlot());
  });
});
