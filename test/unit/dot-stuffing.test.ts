/**
 * The dot-stuffing of every delivered message (src/delivery/dot-stuffing.ts, installed into
 * nodemailer's DataStream by src/delivery/nodemailer-internals.ts) sends the bytes nodemailer's
 * own loop sends: the same output, counters and last byte for the same chunks, on hand-picked
 * streams and on random ones cut at random places. When an upgrade changes DataStream's rules,
 * this fails.
 */
import { PassThrough } from 'node:stream';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { describe, expect, it } from 'vitest';
import { stuffChunk } from '../../src/delivery/dot-stuffing.js';
import {
  fastFlush,
  fastTransform,
  installDotStuffing,
  JOIN_TERMINATOR_BYTES,
  nodemailerFlush,
  nodemailerTransform,
} from '../../src/delivery/nodemailer-internals.js';

type Chunk = Buffer | string;

interface Sent {
  readonly out: Buffer;
  readonly inBytes: number;
  readonly outBytes: number;
  readonly lastByte: number | false;
}

interface Methods {
  readonly transform: unknown;
  readonly flush: unknown;
}
const OURS: Methods = { transform: fastTransform, flush: fastFlush };
const THEIRS: Methods = { transform: nodemailerTransform, flush: nodemailerFlush };

/** A DataStream with these `_transform` and `_flush`. */
function dataStream(m: Methods): DataStream {
  const stream = new DataStream();
  Object.defineProperty(stream, '_transform', { value: m.transform });
  Object.defineProperty(stream, '_flush', { value: m.flush });
  return stream;
}

/** The chunks through a DataStream with these methods, then its end; `pushed`: the chunks it pushed, as the socket gets them. */
async function through(m: Methods, chunks: readonly Chunk[]): Promise<Sent & { pushed: number }> {
  const stream = dataStream(m);
  const sink = new PassThrough();
  const got: Buffer[] = [];
  let pushed = 0;
  stream.on('data', () => pushed++);
  sink.on('data', (b: Buffer) => got.push(b));
  stream.pipe(sink);
  for (const c of chunks) stream.write(c);
  stream.end();
  await new Promise((resolve) => sink.on('end', resolve));
  return { out: Buffer.concat(got), inBytes: stream.inByteCount, outBytes: stream.outByteCount, lastByte: stream.lastByte, pushed };
}

async function expectSame(chunks: readonly Chunk[]): Promise<void> {
  const { pushed: _ours, ...ours } = await through(OURS, chunks);
  const { pushed: _theirs, ...theirs } = await through(THEIRS, chunks);
  expect(ours.out.toString('latin1')).toBe(theirs.out.toString('latin1'));
  expect(ours).toEqual(theirs);
}

/** A deterministic generator (xorshift), so that a failure can be replayed. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Cuts `bytes` at random places (empty chunks included). */
function cut(bytes: Buffer, rnd: () => number): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    const n = Math.floor(rnd() * Math.min(40, bytes.length - at + 1));
    out.push(bytes.subarray(at, at + n));
    at += n;
  }
  return out;
}

describe('dot-stuffing', () => {
  it('has nodemailer’s own transform and flush as its reference', () => {
    expect(typeof nodemailerTransform).toBe('function');
    expect(nodemailerTransform).not.toBe(fastTransform);
    expect(typeof nodemailerFlush).toBe('function');
    expect(nodemailerFlush).not.toBe(fastFlush);
  });

  it('sends a message of one chunk and its terminator in one push (one socket write), a larger last chunk before it', async () => {
    const message = Buffer.from('Subject: x\r\n\r\n.body\r\n');
    const ours = await through(OURS, [message]);
    const theirs = await through(THEIRS, [message]);
    expect(ours.out.toString('latin1')).toBe('Subject: x\r\n\r\n..body\r\n.\r\n');
    expect([ours.pushed, theirs.pushed]).toEqual([1, 2]);
    // chunks before the last go out as they come, one behind
    expect((await through(OURS, ['a\r\n', 'b\r\n', 'c'])).pushed).toBe(3);
    const large = Buffer.alloc(JOIN_TERMINATOR_BYTES + 1, 0x61);
    const big = await through(OURS, [large]);
    expect(big.pushed).toBe(2);
    expect(big.out.equals(Buffer.concat([large, Buffer.from('\r\n.\r\n')]))).toBe(true);
  });

  it('matches DataStream on hand-picked streams and cuts', async () => {
    const cases: Chunk[][] = [
      ['.'],
      ['.\r\n'],
      ['\r.\r'],
      ['a\r.\r\n.\r\n'],
      ['a\n.b\n'],
      ['\n'],
      ['\r'],
      ['\r\r\n\n\r'],
      ['..\r\n..'],
      ['a\r', '.b'],
      ['a\r', '\n.b'],
      ['a\r\n', '.b'],
      ['a\n', '.'],
      ['a\r', '\r', '\n'],
      ['', '.', ''],
      ['Subject: x\r\n\r\nline\r\n.dot first\r\nend'],
      ['héllo\n.wörld\r'], // a string: the stream hands it over as UTF-8 bytes
      [Buffer.alloc(0)],
      [],
    ];
    for (const chunks of cases) await expectSame(chunks);
  });

  it('takes a string chunk given to _transform itself as DataStream does (UTF-8)', () => {
    const sent = (m: Methods): { out: string; stream: DataStream } => {
      const stream = new DataStream();
      const out: Buffer[] = [];
      stream.on('data', (b: Buffer) => out.push(b));
      for (const chunk of ['héllo\n.wörld\r', '.x'])
        (m.transform as (c: string, e: string, done: () => void) => void).call(stream, chunk, 'utf8', () => undefined);
      (m.flush as (done: () => void) => void).call(stream, () => undefined);
      return { out: Buffer.concat(out).toString('latin1'), stream };
    };
    const ours = sent(OURS);
    const theirs = sent(THEIRS);
    expect(ours.out).toBe(theirs.out);
    expect([ours.stream.inByteCount, ours.stream.outByteCount, ours.stream.lastByte]).toEqual([
      theirs.stream.inByteCount,
      theirs.stream.outByteCount,
      theirs.stream.lastByte,
    ]);
  });

  it('matches DataStream on 3,000 random streams cut at random places', async () => {
    const rnd = random(0x5eed);
    const alphabet = [0x0d, 0x0a, 0x2e, 0x61, 0x62];
    for (let n = 0; n < 3000; n++) {
      const bytes = Buffer.alloc(Math.floor(rnd() * 120));
      for (let i = 0; i < bytes.length; i++) bytes[i] = alphabet[Math.floor(rnd() * alphabet.length)] as number;
      await expectSame(cut(bytes, rnd));
    }
  });

  it('matches DataStream on a message of CRLF lines, whole and cut, and leaves a clean chunk as it is', async () => {
    const rnd = random(42);
    const line = (i: number): string => (i % 17 === 0 ? `.line ${i}\r\n` : `line ${i} ${'x'.repeat(i % 70)}\r\n`);
    const message = Buffer.from(Array.from({ length: 400 }, (_, i) => line(i)).join(''));
    await expectSame([message]);
    await expectSame(cut(message, rnd));
    const clean = Buffer.from('a\r\nb\r\n');
    expect(stuffChunk(clean, false)).toBe(clean);
  });

  it('is installed on DataStream once, and refuses a DataStream without its own _transform or _flush', () => {
    installDotStuffing();
    installDotStuffing();
    const proto = DataStream.prototype as unknown as Record<'_transform' | '_flush', unknown>;
    expect([proto._transform, proto._flush]).toEqual([fastTransform, fastFlush]);
    for (const name of ['_transform', '_flush'] as const) {
      const own = Object.getOwnPropertyDescriptor(proto, name) as PropertyDescriptor;
      delete proto[name];
      try {
        expect(() => installDotStuffing()).toThrow(new RegExp(`DataStream lacks its own ${name}`));
      } finally {
        Object.defineProperty(proto, name, own);
      }
    }
    expect([proto._transform, proto._flush]).toEqual([fastTransform, fastFlush]);
  });
});
