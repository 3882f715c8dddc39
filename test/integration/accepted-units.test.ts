/**
 * A relay that claims the units of a message it has just queued hands its runner the records
 * it wrote instead of reading them back (one round trip less per message, B3). They must be
 * exactly what `load` reads from Redis, or a delivery would differ by whether it was adopted
 * at acceptance or claimed later: checked here on a real Redis for a one-chunk message with
 * two units (DSN fields, rewritten sender, body hash) and for a message written in chunks.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { acceptedUnits, type AcceptInput } from '../../src/mailqueue/acceptance.js';
import { createQueueStore } from '../../src/mailqueue/store.js';
import type { MessageMeta } from '../../src/mailqueue/types.js';
import { testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

function meta(id: string, size: number): MessageMeta {
  return {
    id,
    from: 'sender@example.org',
    envid: 'env-1',
    ret: 'HDRS',
    arrived: Date.now(),
    clientIp: '127.0.0.1',
    helo: 'client.example.org',
    size,
    smtputf8: true,
    eightBit: true,
    headerBytes: 40,
    bodyHash: 'abc=',
  };
}

async function bytesOf(stream: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

describe('units adopted at acceptance', () => {
  it('are the records load reads back, for a one-chunk message and for a chunked one', async () => {
    env = await testEnv();
    const store = createQueueStore(env.redis, env.keys, { shards: 2 });
    const oneId = store.newId();
    const one: AcceptInput = {
      meta: meta(oneId, 11),
      chunks: 0,
      onlyChunk: Buffer.from('Subject: x\r\n\r\nhello\r\n'),
      units: [
        {
          hop: 'onprem',
          rcpts: [
            {
              rcpt: 'a@contoso.edu',
              orig: 'A@contoso.edu',
              notify: ['SUCCESS', 'FAILURE'],
              orcpt: 'rfc822;A@contoso.edu',
              reason: 'mailbox',
            },
          ],
        },
        { hop: 'internet', sender: 'alice@contoso.edu', rcpts: [{ rcpt: 'b@example.net', orig: 'b@example.net', reason: 'outbound' }] },
      ],
    };
    const chunkedId = store.newId();
    const sink = store.sink(chunkedId);
    await sink.write(Buffer.from('Subject: y\r\n\r\n'));
    await sink.write(Buffer.from('body\r\n'));
    const chunked: AcceptInput = {
      meta: meta(chunkedId, 20),
      chunks: sink.count,
      units: [{ hop: 'onprem', rcpts: [{ rcpt: 'c@contoso.edu', orig: 'c@contoso.edu', reason: 'mailbox' }] }],
    };
    for (const input of [one, chunked]) {
      const outcome = await store.accept(input, { budget: 0, claim: { leaseMs: 60_000 } });
      if (!outcome.ok) throw new Error(outcome.detail);
      const adopted = acceptedUnits(input, outcome.uids);
      expect(adopted).toHaveLength(input.units.length);
      for (const [i, uid] of outcome.uids.entries()) {
        const loaded = await store.load(uid);
        const mine = adopted[i];
        if (loaded === undefined || mine === undefined) throw new Error(`unit ${uid} missing`);
        expect(mine.unit).toEqual(loaded.unit);
        expect(mine.meta).toEqual(loaded.meta);
        expect(mine.data.chunks).toBe(loaded.data.chunks);
        // load also reads chunk 0 of a longer message; both read the same bytes
        expect(await bytesOf(store.open(input.meta.id, mine.data))).toEqual(await bytesOf(store.open(input.meta.id, loaded.data)));
      }
    }
  });
});
