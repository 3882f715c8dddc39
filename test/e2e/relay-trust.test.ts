/**
 * Trust that survives a load balancer (SPEC §5, issue 12 item 5): PROXY v1/v2 from a listed
 * balancer makes the session's address the client's from the header; the same header from
 * an unlisted address is refused and never trusted. Ten failed AUTH attempts refuse the
 * address for relay.authFailures.refuseFor, on a second relay of the namespace too.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/log/logger.js';
import { startRelay, type RunningRelay } from '../../src/main/relay.js';
import { hashPassword } from '../../src/relay/auth.js';
import { makeTestCa } from '../../testkit/embedded-slapd.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';

let envs: RelayEnv[] = [];
let extra: RunningRelay[] = [];
afterEach(async () => {
  await Promise.all(extra.map((r) => r.close(2000)));
  extra = [];
  await Promise.all(envs.map((e) => e.cleanup()));
  envs = [];
});

const BALANCER = '127.0.0.5';
const ELSEWHERE = '127.0.0.6';

/**
 * Connects from `localAddress`, sends `header` at once (before any greeting, as a balancer
 * does), then each line after the previous reply; returns the greeting and every reply.
 */
function session(port: number, localAddress: string, header: Buffer | string, lines: readonly string[]): Promise<string[]> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress });
    const out: string[] = [];
    let buffer = '';
    let i = 0;
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      if (header.length > 0) socket.write(header);
    });
    socket.on('data', (d: Buffer) => {
      buffer += d.toString('utf8');
      for (;;) {
        const m = /^(\d{3}) .*\r\n/m.exec(buffer);
        if (!m) break;
        out.push(buffer.slice(0, m.index + m[0].length).trimEnd());
        buffer = buffer.slice(m.index + m[0].length);
        const line = lines[i++];
        if (line === undefined) {
          socket.end();
          return;
        }
        socket.write(`${line}\r\n`);
      }
    });
    socket.once('close', () => resolve(out.length > 0 ? out : ['(closed)']));
  });
}

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
function v2(command: number, family: number, body: Buffer): Buffer {
  const head = Buffer.from([0x20 | command, family, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}
const v2From = (ip: string): Buffer => v2(1, 0x11, Buffer.from([...ip.split('.').map(Number), 127, 0, 0, 1, 0xc3, 0x50, 0, 25]));

const OUTBOUND = ['EHLO client.example.org', 'MAIL FROM:<alice@contoso.edu>', 'RCPT TO:<friend@example.org>', 'QUIT'];

describe('relay.proxyProtocol', () => {
  async function relay(): Promise<RelayEnv> {
    const e = await relayEnv({
      relay: { trustedNetworks: ['10.9.9.0/24'], proxyProtocol: { from: [`${BALANCER}/32`], headerTimeout: '2s' } },
    });
    envs.push(e);
    return e;
  }

  it('trusts the address in a v1 or v2 header from a listed balancer, and only that address', async () => {
    const e = await relay();
    const v1 = await session(e.port, BALANCER, 'PROXY TCP4 10.9.9.9 127.0.0.1 50000 25\r\n', OUTBOUND);
    expect(v1[0]).toMatch(/^220 /);
    expect(v1[3]).toMatch(/^250 /); // 10.9.9.9 is in trustedNetworks: may relay outbound
    const viaV2 = await session(e.port, BALANCER, v2From('10.9.9.9'), OUTBOUND);
    expect(viaV2[3]).toMatch(/^250 /);
    // the balancer's client outside trustedNetworks is not trusted
    const outsider = await session(e.port, BALANCER, v2From('192.0.2.1'), OUTBOUND);
    expect(outsider[3]).toBe('554 5.7.1 Relay access denied');
    // inbound mail from any client still flows
    const inbound = await session(e.port, BALANCER, v2From('192.0.2.1'), [
      'EHLO client.example.org',
      'MAIL FROM:<x@example.org>',
      'RCPT TO:<ada.lovelace@contoso.edu>',
      'QUIT',
    ]);
    expect(inbound[3]).toMatch(/^250 /);
  });

  it('serves a LOCAL health check (v2 LOCAL, v1 UNKNOWN) as the balancer itself', async () => {
    const e = await relay();
    const local = await session(e.port, BALANCER, v2(0, 0x00, Buffer.alloc(0)), ['QUIT']);
    expect(local[0]).toMatch(/^220 /);
    expect(local[1]).toMatch(/^221 /);
    const unknown = await session(e.port, BALANCER, 'PROXY UNKNOWN\r\n', OUTBOUND);
    expect(unknown[0]).toMatch(/^220 /);
    expect(unknown[3]).toBe('554 5.7.1 Relay access denied'); // the balancer is not a trusted client
  });

  it('refuses a PROXY header from an unlisted address, and never trusts the address it claims', async () => {
    const e = await relay();
    const v1 = await session(e.port, ELSEWHERE, '', ['PROXY TCP4 10.9.9.9 127.0.0.1 50000 25', ...OUTBOUND]);
    expect(v1[0]).toMatch(/^220 /);
    expect(v1[1]).toMatch(/^5\d\d /);
    expect(v1[4]).toBe('554 5.7.1 Relay access denied');
  });

  it('closes a balancer connection without a valid header', async () => {
    const e = await relay();
    expect(await session(e.port, BALANCER, 'EHLO client.example.org\r\n', [])).toEqual(['(closed)']);
  });
});

describe('relay.authFailures', () => {
  it('ten bad AUTH attempts refuse the address for refuseFor, on a second relay too; other addresses keep working', async () => {
    const SMTPConnection = (await import('nodemailer/lib/smtp-connection')).default;
    const dir = mkdtempSync(join(tmpdir(), 'sy-authlimit-'));
    const ca = await makeTestCa(join(dir, 'ca'));
    const usersFile = join(dir, 'users');
    writeFileSync(usersFile, `alice:${await hashPassword('correct horse battery')}\n`);
    const e = await relayEnv({
      relay: {
        tls: { key: ca.keyFile, cert: ca.certFile },
        auth: { usersFile },
        authFailures: { slowAfter: 3, slowBy: '20ms', refuseAfter: 10, window: '10m', refuseFor: '1h' },
      },
    });
    envs.push(e);
    const second = await startRelay({ config: e.env.config, log: createLogger('relay-test', 'silent'), pollMs: 100 });
    extra.push(second);
    const login = (port: number, localAddress: string, pass: string) =>
      new Promise<string>((resolve) => {
        const conn = new SMTPConnection({
          host: '127.0.0.1',
          port,
          localAddress,
          requireTLS: true,
          tls: { rejectUnauthorized: false },
          allowInternalNetworkInterfaces: true,
        });
        conn.on('error', (err) => resolve(`error ${(err as Error & { response?: string }).response ?? (err as Error).message}`));
        conn.connect(() =>
          conn.login({ user: 'alice', pass }, (err) => {
            conn.close();
            resolve(err ? ((err as { response?: string }).response ?? err.message) : 'ok');
          }),
        );
      });
    const secondPort = second.addresses[0]?.port ?? 0;
    for (let i = 0; i < 10; i++) {
      // spread over both relays: they share the count
      expect(await login(i % 2 === 0 ? e.port : secondPort, '127.0.0.3', 'wrong')).toBe('535 5.7.8 Authentication credentials invalid');
    }
    const refused = '454 4.7.0 Too many failed authentication attempts from your address, try again later';
    expect(await login(e.port, '127.0.0.3', 'correct horse battery')).toBe(refused);
    expect(await login(secondPort, '127.0.0.3', 'correct horse battery')).toBe(refused);
    expect(await login(secondPort, '127.0.0.4', 'correct horse battery')).toBe('ok');
    // refused for the configured time: the shared counter's expiry is refuseFor
    const redis = new Redis(e.env.redisUrl);
    try {
      const ttl = await redis.pttl(e.env.keys.authFailures('127.0.0.3'));
      expect(ttl).toBeGreaterThan(3_600_000 - 60_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
      expect(await redis.get(e.env.keys.authFailures('127.0.0.3'))).toBe('10');
    } finally {
      redis.disconnect();
    }
  });
});
