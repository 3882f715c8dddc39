/**
 * Loops, limits and bad input (SPEC §5): each gets its precise SMTP reply and the relay
 * keeps serving everyone else. Graceful shutdown finishes the transaction in progress.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../../src/relay/auth.js';
import { makeTestCa } from '../../testkit/embedded-slapd.js';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/main/embedded-redis.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { dialogue, message, sendMail } from '../helpers/smtp.js';

let envs: RelayEnv[] = [];
afterEach(async () => {
  await Promise.all(envs.map((e) => e.cleanup()));
  envs = [];
});
async function relay(o: Parameters<typeof relayEnv>[0] = {}): Promise<RelayEnv> {
  const e = await relayEnv(o);
  envs.push(e);
  return e;
}

const ENVELOPE = ['EHLO client.example.org', 'MAIL FROM:<sender@example.org>', 'RCPT TO:<ada.lovelace@contoso.edu>', 'DATA'];

async function stillServes(e: RelayEnv): Promise<void> {
  const r = await sendMail({ port: e.port, from: 'sender@example.org', to: ['brian.lovelace@contoso.edu'] });
  expect(r.response).toMatch(/^250 2\.0\.0/);
}

describe('loops', () => {
  it('refuses a message with more Received headers than relay.maxHops with 554 5.4.6', async () => {
    const e = await relay();
    const received = Array.from(
      { length: 31 },
      (_, i) => `Received: from hop${i}.example.org by hop${i + 1}.example.org; Mon, 23 Nov 2026 10:00:00 +0000\r\n`,
    ).join('');
    const r = await dialogue(e.port, [...ENVELOPE, { raw: `${received}${message('hops')}.\r\n` }, 'QUIT']);
    expect(r[5]).toBe('554 5.4.6 Routing loop detected: too many Received headers (31 > 30)');
    const ok = Array.from({ length: 30 }, () => 'Received: from a by b; Mon, 23 Nov 2026 10:00:00 +0000\r\n').join('');
    const r2 = await dialogue(e.port, [...ENVELOPE, { raw: `${ok}${message('thirty')}.\r\n` }, 'QUIT']);
    expect(r2[5]).toMatch(/^250 2\.0\.0/);
  });

  it('stops two relays forwarding unknown recipients to each other at the second pass with 5.4.6', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const cross = (own: number, other: number) => ({
      relay: { listen: [`127.0.0.1:${own}`] },
      adjust: (raw: Record<string, unknown>) => {
        const legacy = (raw.connectors as { name: string; smartHosts: string[] }[]).find((c) => c.name === 'legacy');
        if (legacy) legacy.smartHosts = [`127.0.0.1:${other}`];
      },
    });
    const a = await relay(cross(portA, portB));
    const b = await relay(cross(portB, portA));
    const r = await sendMail({ port: a.port, from: 'sender@example.org', to: ['nobody@contoso.edu'] });
    expect(r.response).toMatch(/^250/);
    // A → B → A: A recognises its own marker and refuses; B bounces to the sender
    const [dsn] = await b.sinks.internet.waitFor(1);
    expect(dsn?.text).toMatch(/Status: 5\.4\.6/);
    expect(dsn?.text).toMatch(/Diagnostic-Code: smtp;554 5\.4\.6 Routing loop detected: this message already passed/);
    expect(dsn?.text.match(/^Received: /gm)?.length).toBeGreaterThanOrEqual(2);
    await new Promise((res) => setTimeout(res, 500));
    expect(a.sinks.internet.messages).toHaveLength(0);
    expect(b.sinks.internet.messages).toHaveLength(1);
  });

  it('refuses a configuration whose connector points at the relay itself', async () => {
    await expect(
      relay({
        relay: { listen: ['127.0.0.1:2599'] },
        adjust: (raw) => {
          const legacy = (raw.connectors as { name: string; smartHosts: string[] }[]).find((c) => c.name === 'legacy');
          if (legacy) legacy.smartHosts = ['localhost:2599'];
        },
      }),
    ).rejects.toThrow(/connectors\[2\]\.smartHosts\[0\]: "localhost:2599" is this relay's own listener/);
  });
});

describe('limits and bad input', () => {
  it('answers bare LF and NUL bytes with 550 5.6.0, passes a 5,000-character line on byte-identical, and keeps serving', async () => {
    const e = await relay();
    const bare = await dialogue(e.port, [...ENVELOPE, { raw: 'Subject: x\nTo: y\r\n\r\nbody\r\n.\r\n' }]);
    expect(bare[5]).toBe('550 5.6.0 Message has bare LF line endings; use CRLF (RFC 5321 section 2.3.8)');
    const nul = await dialogue(e.port, [...ENVELOPE, { raw: 'Subject: x\r\n\r\nbo\0dy\r\n.\r\n' }]);
    expect(nul[5]).toBe('550 5.6.0 Message contains NUL bytes');
    // lines over 998 characters are accepted and passed on unchanged, as Postfix does (SPEC §5)
    const line = Array.from({ length: 5000 }, (_, i) => String.fromCharCode(33 + (i % 90)))
      .join('')
      .replace(/\./g, ',');
    const long = await dialogue(e.port, [...ENVELOPE, { raw: `Subject: long\r\n\r\n${line}\r\nend\r\n.\r\n` }]);
    expect(long[5]).toMatch(/^250 2\.0\.0/);
    const [got] = await e.sinks.onprem.waitFor(1);
    expect(got?.text.endsWith(`Subject: long\r\n\r\n${line}\r\nend\r\n`)).toBe(true);
    await stillServes(e);
  });

  it('answers malformed commands and addresses precisely', async () => {
    const e = await relay();
    const r = await dialogue(e.port, [
      'EHLO client.example.org',
      'MAIL FROM:<not an address>',
      'MAIL FROM:<sender@example.org>',
      'RCPT TO:<a@@contoso.edu>',
      'RCPT TO:<ada.lovelace@contoso.edu> FOO=BAR',
      'BOGUS',
      `RCPT TO:<${'x'.repeat(5000)}@contoso.edu>`,
      `NOOP ${'y'.repeat(100_000)}`,
      'QUIT',
    ]);
    // an over-long command line (smtp-server's limit) ends the session, not the server
    expect(r.slice(8)).toEqual(['421 4.4.2 Error: Command line too long', '(closed)']);
    expect(r.slice(2, 8)).toEqual([
      '501 5.1.7 Error: Bad sender address syntax',
      '250 2.1.0 Accepted',
      '501 5.1.3 Error: Bad recipient address syntax',
      '555 5.5.4 Unsupported MAIL FROM or RCPT TO parameter',
      '500 5.5.2 Error: command not recognized',
      '501 5.1.3 Error: Bad recipient address syntax',
    ]);
    await stillServes(e);
  });

  it('refuses a message over relay.maxMessageSize with 552 and too many recipients with 452 4.5.3', async () => {
    const e = await relay({ relay: { maxMessageSize: 4096, maxRecipients: 2 } });
    const big = await dialogue(e.port, [...ENVELOPE, { raw: `${message('big', '', `${'x'.repeat(900)}\r\n`.repeat(10))}.\r\n` }]);
    expect(big[5]).toMatch(/^552 5\.3\.4 /);
    const many = await dialogue(e.port, [
      'EHLO c',
      'MAIL FROM:<s@example.org>',
      'RCPT TO:<ada.lovelace@contoso.edu>',
      'RCPT TO:<brian.lovelace@contoso.edu>',
      'RCPT TO:<nobody@contoso.edu>',
    ]);
    expect(many[5]).toMatch(/^452 4\.5\.3 /);
    await stillServes(e);
  });

  it('limits connections per IP with 421 4.7.0 and closes idle sessions after the command timeout', async () => {
    const e = await relay({ relay: { maxConnectionsPerIp: 2, commandTimeout: '1s' } });
    const { connect } = await import('node:net');
    const open = async () => {
      const s = connect({ host: '127.0.0.1', port: e.port });
      const greeting = await new Promise<string>((res) => s.once('data', (d) => res(d.toString())));
      return { s, greeting };
    };
    const one = await open();
    const two = await open();
    const three = await open();
    expect(one.greeting).toMatch(/^220 /);
    expect(two.greeting).toMatch(/^220 /);
    expect(three.greeting).toMatch(/^421 4\.7\.0 Too many connections from your address/);
    const timedOut = await new Promise<string>((res) => one.s.once('data', (d) => res(d.toString())));
    expect(timedOut).toMatch(/^421 /);
    for (const c of [one, two, three]) c.s.destroy();
    await new Promise((res) => setTimeout(res, 200));
    await stillServes(e);
  });
});

describe('graceful shutdown', () => {
  it('finishes the transaction in progress, answers 421 to new sessions, and delivers', async () => {
    const e = await relay();
    const { connect } = await import('node:net');
    const s = connect({ host: '127.0.0.1', port: e.port });
    s.setEncoding('utf8');
    const lines: string[] = [];
    let wake: (() => void) | undefined;
    s.on('data', (d: string) => {
      lines.push(...d.split('\r\n').filter(Boolean));
      wake?.();
    });
    const waitLine = async (re: RegExp) => {
      while (!lines.some((l) => re.test(l))) await new Promise<void>((r) => (wake = r));
      return lines.find((l) => re.test(l));
    };
    await waitLine(/^220 /);
    s.write('EHLO c\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<ada.lovelace@contoso.edu>\r\n');
    await waitLine(/^250 2\.1\.5/);
    const closing = e.relay?.close(5000);
    await new Promise((r) => setTimeout(r, 200));
    const late = await dialogue(e.port, []).catch((err: Error) => [err.message]);
    expect(late[0]).toMatch(/^421 4\.3\.2 Service shutting down|ECONNREFUSED/);
    s.write(`DATA\r\n${message('drain')}.\r\nQUIT\r\n`);
    expect(await waitLine(/^250 2\.0\.0 Ok: queued/)).toBeDefined();
    await closing;
    e.relay = undefined;
    await e.sinks.onprem.waitFor(1);
  });
});

describe('SMTP AUTH for submitting clients', () => {
  it('lets a client authenticated over TLS relay outbound, refuses a wrong password and AUTH in clear', async () => {
    const SMTPConnection = (await import('nodemailer/lib/smtp-connection')).default;
    const dir = mkdtempSync(join(tmpdir(), 'sy-auth-'));
    const ca = await makeTestCa(join(dir, 'ca'));
    const usersFile = join(dir, 'users');
    writeFileSync(usersFile, `# submitting clients\nalice:${await hashPassword('correct horse battery')}\n`);
    const e = await relay({ relay: { tls: { key: ca.keyFile, cert: ca.certFile }, auth: { usersFile } } });
    const submit = (user: string, pass: string) =>
      new Promise<string>((resolve) => {
        const conn = new SMTPConnection({
          host: '127.0.0.1',
          port: e.port,
          localAddress: '127.0.0.2',
          requireTLS: true,
          tls: { rejectUnauthorized: false },
          allowInternalNetworkInterfaces: true,
        });
        conn.on('error', (err) => resolve(`error ${(err as Error & { response?: string }).response ?? (err as Error).message}`));
        conn.connect(() =>
          conn.login({ user, pass }, (err) => {
            if (err) return resolve(`login ${(err as { response?: string }).response ?? err.message}`);
            conn.send({ from: 'alice@contoso.edu', to: ['friend@example.org'] }, message('submitted'), (sendErr, info) => {
              conn.close();
              resolve(sendErr ? `send ${(sendErr as { response?: string }).response ?? sendErr.message}` : info.response);
            });
          }),
        );
      });
    expect(await submit('alice', 'correct horse battery')).toMatch(/^250 2\.0\.0 Ok: queued/);
    const [out] = await e.sinks.internet.waitFor(1);
    expect(out?.rcpts.map((r) => r.address)).toEqual(['friend@example.org']);
    expect(out?.text).toMatch(/with ESMTPSA id/);
    expect(await submit('alice', 'wrong')).toBe('login 535 5.7.8 Authentication credentials invalid');
    // without TLS AUTH is neither offered nor taken
    const clear = await dialogue(e.port, ['EHLO client.example.org', 'AUTH PLAIN AGFsaWNlAHdyb25n'], '127.0.0.2');
    expect(clear[1]).not.toMatch(/AUTH/);
    expect(clear[1]).toMatch(/STARTTLS/);
    expect(clear[2]).toMatch(/^5\d\d 5\.\d\.\d+ /);
  });

  it('config check refuses relay.auth without relay.tls', async () => {
    await expect(relay({ relay: { auth: { usersFile: '/nonexistent' } } })).rejects.toThrow(/relay\.auth: needs relay\.tls/);
  });
});

describe('greeting delay', () => {
  it('greets by default; with relay.greetingDelay it waits, and a client that talks first is refused', async () => {
    const { connect } = await import('node:net');
    const firstReply = (port: number, talkFirst: boolean) =>
      new Promise<{ reply: string; ms: number }>((resolve) => {
        const started = Date.now();
        const s = connect({ host: '127.0.0.1', port }, () => {
          if (talkFirst) s.write('EHLO eager.example.org\r\n');
        });
        s.once('data', (d) => {
          resolve({ reply: d.toString().trim(), ms: Date.now() - started });
          s.destroy();
        });
      });
    const quick = await relay();
    const now = await firstReply(quick.port, false);
    expect(now.reply).toMatch(/^220 /);
    const slow = await relay({ relay: { greetingDelay: '400ms' } });
    const patient = await firstReply(slow.port, false);
    expect(patient.reply).toMatch(/^220 /);
    expect(patient.ms).toBeGreaterThanOrEqual(350);
    expect((await firstReply(slow.port, true)).reply).toMatch(/^421 .*You talk too soon/);
  });
});
