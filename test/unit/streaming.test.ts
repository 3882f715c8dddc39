/**
 * The streaming DATA path without Redis: ingest cuts the message into chunks behind our
 * Received line and finds the header block, the body hash is nodemailer's, and a signature
 * made from the header block and that hash is the one nodemailer's buffering signer makes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import DKIM from 'nodemailer/lib/dkim';
import { describe, expect, it } from 'vitest';
import { composeMessage, type Original } from '../../src/delivery/compose.js';
import { dkimSigners } from '../../src/delivery/outbound.js';
import { CHUNK_BYTES, type ChunkSink } from '../../src/mailqueue/body.js';
import { BodyHasher } from '../../src/message/body-hash.js';
import { ingest } from '../../src/relay/ingest.js';
import type { ConnectorConfig } from '../../src/config/schema.js';

function memorySink(): ChunkSink & { chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  return {
    chunks,
    get count() {
      return chunks.length;
    },
    write(chunk) {
      chunks.push(Buffer.from(chunk));
      return Promise.resolve();
    },
  };
}

/** A DATA stream as smtp-server gives it: pieces of uneven size. */
const pieces = (buf: Buffer, size = 65_536 + 7): Readable =>
  Readable.from(Array.from({ length: Math.ceil(buf.length / size) }, (_, i) => buf.subarray(i * size, (i + 1) * size)));

const message = (bodyBytes: number): Buffer => {
  const line = 'The quick brown fox  jumps over the lazy dog \t \r\n';
  const body = line.repeat(Math.ceil(bodyBytes / line.length)).slice(0, bodyBytes - (bodyBytes % line.length));
  return Buffer.from(`From: Ada <ada@live.contoso.edu>\r\nTo: bob@example.org\r\nSubject: streamed\r\n\r\n${body}\r\n\r\n`, 'latin1');
};

const bodyHash = async (body: Buffer): Promise<string> => {
  const h = new BodyHasher();
  h.update(body);
  return h.digest();
};

describe('ingest', () => {
  it('stores prefix + message in chunks of CHUNK_BYTES, with the header block and body hash', async () => {
    const msg = message(3 * CHUNK_BYTES + 1000);
    const prefix = Buffer.from('Received: by test\r\n');
    const sink = memorySink();
    const r = await ingest(pieces(msg), { prefix, sink: () => sink, hash: true, reserved: 10 * CHUNK_BYTES });
    const stored = Buffer.concat(sink.chunks);
    expect(stored.equals(Buffer.concat([prefix, msg]))).toBe(true);
    expect(sink.chunks.slice(0, -1).every((c) => c.length === CHUNK_BYTES)).toBe(true);
    expect(r.chunks).toBe(sink.chunks.length);
    expect(r.onlyChunk).toBeUndefined();
    expect(r.size).toBe(stored.length);
    const headerEnd = msg.indexOf('\r\n\r\n') + 4;
    expect(r.headerBytes).toBe(prefix.length + headerEnd);
    expect(r.head.toString('latin1')).toBe(msg.subarray(0, headerEnd).toString('latin1'));
    expect(r.bodyHash).toBe(await bodyHash(msg.subarray(headerEnd)));
    expect(r.problem).toBeUndefined();
  });

  it('keeps a small message in one chunk without writing, and refuses what is over the reservation', async () => {
    const msg = message(2000);
    const sink = memorySink();
    const small = await ingest(pieces(msg, 100), { prefix: Buffer.from('R: x\r\n'), sink: () => sink, hash: false, reserved: 1e6 });
    expect(sink.chunks).toHaveLength(0);
    expect(small.onlyChunk?.toString('latin1')).toBe(`R: x\r\n${msg.toString('latin1')}`);
    expect(small.bodyHash).toBeUndefined();
    const over = await ingest(pieces(message(CHUNK_BYTES * 2)), { prefix: Buffer.alloc(0), sink: () => sink, hash: false, reserved: 1000 });
    expect(over.overReserved).toBe(true);
    expect(sink.chunks).toHaveLength(0);
  });

  it('finds a bare LF and stops storing', async () => {
    const sink = memorySink();
    const r = await ingest(pieces(Buffer.from(`Subject: x\r\n\r\n${'a'.repeat(CHUNK_BYTES)}\nsmuggled\r\n`), 1000), {
      prefix: Buffer.alloc(0),
      sink: () => sink,
      hash: false,
      reserved: 1e9,
    });
    expect(r.problem).toBe('bareLf');
  });
});

describe('DKIM from the header block and the stored body hash', () => {
  it('makes the signature nodemailer makes over the whole message, and rewrites From: before signing', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
    const dir = mkdtempSync(join(tmpdir(), 'sy-dkim-'));
    writeFileSync(join(dir, 'key.pem'), pem);
    const connector = {
      name: 'internet',
      dkim: { domain: 'contoso.edu', selector: 's1', privateKeyFile: join(dir, 'key.pem') },
    } as unknown as ConnectorConfig;
    const signer = dkimSigners([connector]).get('internet');
    expect(signer).toBeDefined();

    const msg = message(CHUNK_BYTES + 5000);
    const sink = memorySink();
    const r = await ingest(pieces(msg), { prefix: Buffer.alloc(0), sink: () => sink, hash: true, reserved: 1e9 });
    const streamed: Original = { size: r.size, headerBytes: r.headerBytes, open: () => Readable.from(sink.chunks) };
    // the same message held whole (one chunk, read with the unit), and without the stored hash
    const held: Original = { ...streamed, whole: Buffer.concat(sink.chunks) };
    const sends: Buffer[] = [];
    for (const [original, bodyHash] of [
      [streamed, r.bodyHash],
      [held, r.bodyHash],
      [held, undefined],
    ] as const) {
      const composed = await composeMessage(original, {
        marker: 'X-Switchyard-Loop: v=1; r=abc\r\n',
        ...(signer ? { signer } : {}),
        rewrite: { from: 'ada@live.contoso.edu', to: 'ada@contoso.edu' },
        ...(bodyHash ? { bodyHash } : {}),
      });
      const chunks: Buffer[] = [];
      if (Buffer.isBuffer(composed.body)) chunks.push(composed.body);
      else for await (const c of composed.body) chunks.push(c as Buffer);
      sends.push(Buffer.concat(chunks));
      expect(sends.at(-1)?.length).toBe(composed.size);
    }
    const [sent] = sends;
    expect(sends[1]?.equals(sent ?? Buffer.alloc(0))).toBe(true);
    expect(sends[2]?.equals(sent ?? Buffer.alloc(0))).toBe(true);

    const rewritten = Buffer.from(msg.toString('latin1').replace('<ada@live.contoso.edu>', '<ada@contoso.edu>'), 'latin1');
    const reference = new DKIM({ domainName: 'contoso.edu', keySelector: 's1', privateKey: pem });
    const refChunks: Buffer[] = [];
    for await (const c of reference.sign(rewritten)) refChunks.push(c as Buffer);
    const expected = Buffer.concat([Buffer.from('X-Switchyard-Loop: v=1; r=abc\r\n'), ...refChunks]);
    expect(sent?.toString('latin1')).toBe(expected.toString('latin1'));
  });
});

describe('From: rewriting', () => {
  const head = (from: string): Buffer => Buffer.from(`Subject: x\r\nFrom: ${from}\r\nTo: bob@example.org\r\n\r\n`, 'latin1');
  const fromOf = (b: Buffer): string => /^From: (.*)$/m.exec(b.toString('latin1'))?.[1]?.trim() ?? '';
  it('changes the address, not a display name that repeats it, and keeps everything else', async () => {
    const { rewriteFromHeader } = await import('../../src/delivery/outbound.js');
    expect(fromOf(rewriteFromHeader(head('"a@live.contoso.edu" <a@live.contoso.edu>'), 'a@live.contoso.edu', 'a@contoso.edu'))).toBe(
      '<a@contoso.edu>',
    );
    expect(fromOf(rewriteFromHeader(head('Ada Lovelace <ADA@live.contoso.edu>'), 'ada@live.contoso.edu', 'ada@contoso.edu'))).toBe(
      'Ada Lovelace <ada@contoso.edu>',
    );
    expect(fromOf(rewriteFromHeader(head('"Lovelace, Ada"\r\n <ada@live.contoso.edu>'), 'ada@live.contoso.edu', 'ada@contoso.edu'))).toBe(
      '"Lovelace, Ada" <ada@contoso.edu>',
    );
    const other = head('Bob <bob@live.contoso.edu>');
    expect(rewriteFromHeader(other, 'ada@live.contoso.edu', 'ada@contoso.edu')).toBe(other);
    const notFrom = Buffer.from('Reply-To: ada@live.contoso.edu\r\nFrom: x@y.z\r\n\r\n', 'latin1');
    expect(rewriteFromHeader(notFrom, 'ada@live.contoso.edu', 'ada@contoso.edu')).toBe(notFrom);
  });
});
