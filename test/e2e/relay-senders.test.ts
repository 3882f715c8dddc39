/**
 * What real senders and next hops do (SPEC §5, issue 12 items 1–4): a client that stalls
 * in DATA is cut off after relay.dataTimeout with 421 4.4.2 and nothing is queued; ORCPT
 * is decoded once; SMTPUTF8 is passed on; one transaction's recipients keep their own
 * NOTIFY/ORCPT at the next hop (the nodemailer override this project keeps); a smart host
 * that answers the connection with 421 passes the message to the next one.
 */
import { connect, createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createQueueStore } from '../../src/mailqueue/store.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { dialogue, message } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
let servers: Server[] = [];
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  servers = [];
});

const DATA = (subject: string, extra = ''): { raw: string } => ({ raw: `${message(subject, extra)}.\r\n` });

describe('what real senders send', () => {
  it('a client that stops in the middle of DATA gets 421 4.4.2 after dataTimeout, is disconnected, and nothing is queued', async () => {
    t = await relayEnv({ relay: { dataTimeout: '2s' } });
    const socket = connect({ host: '127.0.0.1', port: t.port });
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (received += d));
    const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())));
    const waitFor = async (re: RegExp): Promise<void> => {
      for (let i = 0; i < 200 && !re.test(received); i++) await new Promise((r) => setTimeout(r, 25));
    };
    await waitFor(/^220 /m);
    socket.write('EHLO stall.example.org\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<ada.lovelace@contoso.edu>\r\nDATA\r\n');
    await waitFor(/^354 /m);
    socket.write(`Subject: stalled\r\n\r\n${'x'.repeat(400_000)}\r\n`); // more than one chunk, then nothing
    const stalledAt = Date.now();
    const closedAt = await closed;
    expect(received).toMatch(/^421 4\.4\.2 Timeout while receiving the message/m);
    expect(closedAt - stalledAt).toBeGreaterThanOrEqual(1500);
    expect(closedAt - stalledAt).toBeLessThan(8000);
    const store = createQueueStore(t.env.redis, t.env.keys);
    expect(await store.depth()).toEqual({ ready: 0, active: 0, held: 0 });
    // the chunks written before the stall are gone, and so is the reservation
    const shards = Array.from({ length: 16 }, (_, k) => t?.env.keys.mqShard(k));
    for (;;) {
      const left = await Promise.all(shards.map(async (k) => (await t?.env.redis.zcard(k?.reservations ?? '')) ?? 0));
      const bytes = await Promise.all(shards.map(async (k) => Number((await t?.env.redis.get(k?.bytes ?? '')) ?? 0)));
      if (left.every((n) => n === 0) && bytes.every((n) => n === 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await t.env.redis.keys(`${t.env.keys.mqShard(0).tag.slice(0, -3)}*:mq:d:*`)).length).toBe(0);
    expect(t.sinks.onprem.messages).toHaveLength(0);
  });

  it('decodes ORCPT once, keeps NOTIFY/ORCPT per recipient in one transaction, and passes SMTPUTF8 on', async () => {
    t = await relayEnv({
      sinks: { onprem: { rcptReply: (a) => (a.startsWith('brian') ? { code: 550, message: '5.1.1 gone' } : undefined) } },
    });
    const r = await dialogue(t.port, [
      'EHLO c.example.org',
      'MAIL FROM:<sender@example.org> SMTPUTF8',
      'RCPT TO:<ada.lovelace@contoso.edu> NOTIFY=SUCCESS ORCPT=rfc822;john+2Bde@contoso.edu',
      'RCPT TO:<brian.lovelace@contoso.edu> NOTIFY=FAILURE ORCPT=rfc822;brian+2Bold@contoso.edu',
      'DATA',
      { raw: `${message('utf8', 'X-Note: Grüße\r\n')}.\r\n` },
      'QUIT',
    ]);
    expect(r[6]).toMatch(/^250 /);
    const [got] = await t.sinks.onprem.waitFor(1);
    expect(got?.mailArgs.SMTPUTF8).toBe('true');
    const byRcpt = new Map(got?.rcpts.map((x) => [x.address, x.args]));
    expect(byRcpt.get('ada.lovelace@contoso.edu')).toMatchObject({ NOTIFY: 'SUCCESS', ORCPT: 'rfc822;john+de@contoso.edu' });
    // the sink's smtp-server decoded the xtext it received: `john+2Bde` on the wire, once encoded
    expect(byRcpt.has('brian.lovelace@contoso.edu')).toBe(false); // refused 550 by the next hop
    const [dsn] = await t.sinks.internet.waitFor(1);
    expect(dsn?.text).toContain('Original-Recipient: rfc822;brian+old@contoso.edu');
    expect(dsn?.text).toContain('Final-Recipient: rfc822;brian.lovelace@contoso.edu');
    expect(dsn?.text).not.toContain('john');
  });

  it('a smart host that greets with 421 passes the message to the next one in the list', async () => {
    const busy = createServer((s) => s.end('421 4.3.2 busy, try another\r\n'));
    servers.push(busy);
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
    const busyPort = (busy.address() as { port: number }).port;
    t = await relayEnv({
      adjust: (raw) => {
        const onprem = (raw.connectors as { name: string; smartHosts: string[] }[]).find((c) => c.name === 'onprem');
        if (onprem) onprem.smartHosts = [`127.0.0.1:${busyPort}`, ...onprem.smartHosts];
      },
    });
    const r = await dialogue(t.port, [
      'EHLO c',
      'MAIL FROM:<s@example.org>',
      'RCPT TO:<ada.lovelace@contoso.edu>',
      'DATA',
      DATA('second host'),
    ]);
    expect(r[5]).toMatch(/^250 /);
    const [got] = await t.sinks.onprem.waitFor(1, 10_000);
    expect(got?.text).toContain('Subject: second host');
  });
});
