/**
 * What a reload applies beyond domains and trust (SPEC §5), in-process: the TLS certificate
 * and the AUTH users of the next session, the worker's schedules, and all of it at once in
 * `switchyard up` (or none of it when the file is refused).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { startReloader } from '../../src/main/reload.js';
import { startUp } from '../../src/main/up.js';
import { startWorker } from '../../src/main/worker.js';
import { hashPassword } from '../../src/relay/auth.js';
import { makeTestCa } from '../../testkit/embedded-slapd.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { dialogue } from '../helpers/smtp.js';

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** Reads replies on a socket, one complete (last line `NNN `) reply per call. */
function replies(socket: Socket | TLSSocket): () => Promise<string> {
  let buffer = '';
  const waiting: ((r: string) => void)[] = [];
  const ready: string[] = [];
  socket.on('data', (d: Buffer) => {
    buffer += d.toString('utf8');
    for (let m = /^\d{3} .*\r\n/m.exec(buffer); m; m = /^\d{3} .*\r\n/m.exec(buffer)) {
      const reply = buffer.slice(0, m.index + m[0].length).trimEnd();
      buffer = buffer.slice(m.index + m[0].length);
      const w = waiting.shift();
      if (w) w(reply);
      else ready.push(reply);
    }
  });
  return () => {
    const r = ready.shift();
    return r !== undefined ? Promise.resolve(r) : new Promise((resolve) => waiting.push(resolve));
  };
}

/** A session upgraded by STARTTLS: the issuer of the certificate it was shown, and AUTH PLAIN's reply. */
async function tlsSession(port: number, user: string, pass: string): Promise<{ issuer: string; auth: string }> {
  const plain = netConnect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' }); // not a trusted network
  const next = replies(plain);
  await next();
  plain.write('EHLO client.example.org\r\n');
  await next();
  plain.write('STARTTLS\r\n');
  expect(await next()).toMatch(/^220/);
  plain.removeAllListeners('data');
  const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
  await new Promise<void>((r) => secure.once('secureConnect', () => r()));
  const issuer = String(secure.getPeerCertificate().issuer.CN);
  const snext = replies(secure);
  secure.write('EHLO client.example.org\r\n');
  await snext();
  secure.write(`AUTH PLAIN ${Buffer.from(`\0${user}\0${pass}`).toString('base64')}\r\n`);
  const auth = await snext();
  secure.destroy();
  return { issuer, auth };
}

describe('reload applies', () => {
  it('a new TLS certificate and users file to the next session', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-reload-'));
    const [one, two] = [await makeTestCa(join(dir, 'one'), 'CA one'), await makeTestCa(join(dir, 'two'), 'CA two')];
    const [usersOne, usersTwo] = [join(dir, 'users1'), join(dir, 'users2')];
    writeFileSync(usersOne, `alice:${await hashPassword('alice pass')}\n`);
    writeFileSync(usersTwo, `bob:${await hashPassword('bob pass')}\n`);
    const t: RelayEnv = await relayEnv({ relay: { tls: { key: one.keyFile, cert: one.certFile }, auth: { usersFile: usersOne } } });
    cleanups.push(() => t.cleanup());
    const port = t.port;
    expect(await tlsSession(port, 'alice', 'alice pass')).toEqual({ issuer: 'CA one', auth: expect.stringMatching(/^235/) as string });

    const raw = JSON.parse(JSON.stringify(t.env.config)) as { relay: Record<string, unknown> };
    raw.relay.tls = { key: two.keyFile, cert: two.certFile };
    raw.relay.auth = { usersFile: usersTwo };
    t.relay?.reconfigure(parseConfig(raw, 'reload', {}));

    const after = await tlsSession(port, 'alice', 'alice pass');
    expect(after.issuer).toBe('CA two');
    expect(after.auth).toMatch(/^535/);
    expect((await tlsSession(port, 'bob', 'bob pass')).auth).toMatch(/^235/);

    // an unreadable certificate is refused and nothing changes
    raw.relay.tls = { key: join(dir, 'missing.key'), cert: two.certFile };
    raw.relay.auth = { usersFile: usersOne };
    expect(() => t.relay?.reconfigure(parseConfig(raw, 'reload', {}))).toThrow(/missing\.key/);
    expect(await tlsSession(port, 'bob', 'bob pass')).toEqual({ issuer: 'CA two', auth: expect.stringMatching(/^235/) as string });
  });

  it("the worker's schedules: a schedule added by a reload runs, a removed one stops", async () => {
    const env: TestEnv = await testEnv((raw) => {
      const src = (raw.sources as Record<string, unknown>[])[0]!;
      src.path = csvFixture('contoso.csv');
      raw.sources = [src];
    });
    cleanups.push(() => env.cleanup());
    const worker = await startWorker({ config: env.config, log: createLogger('reload-test', 'silent') });
    cleanups.push(() => worker.close());
    expect([...worker.schedules.nextRuns().keys()]).toEqual([]);

    const raw = JSON.parse(JSON.stringify(env.config)) as { sources: Record<string, unknown>[] };
    raw.sources[0]!.schedule = '* * * * * *';
    await worker.reconfigure(parseConfig(raw, 'reload', {}));
    expect([...worker.schedules.nextRuns().keys()]).toEqual(['corp:full']);
    const runs = async (): Promise<number> => Number((await env.redis.hget(env.keys.runCounts, 'corp')) ?? 0);
    for (let i = 0; i < 200 && (await runs()) < 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(await runs()).toBeGreaterThanOrEqual(1);

    delete raw.sources[0]!.schedule;
    await worker.reconfigure(parseConfig(raw, 'reload', {}));
    expect([...worker.schedules.nextRuns().keys()]).toEqual([]);
  });

  it('switchyard up: one reload reaches the relay, the worker and the admin, and a refused one none of them', async () => {
    const env: TestEnv = await testEnv((raw) => {
      const src = (raw.sources as Record<string, unknown>[])[0]!;
      src.path = csvFixture('contoso.csv');
      raw.sources = [src];
      raw.relay = { listen: ['127.0.0.1:0'], trustedNetworks: ['127.0.0.1/32'] };
    });
    cleanups.push(() => env.cleanup());
    const log = createLogger('reload-test', 'silent');
    const up = await startUp({ config: env.config, log, adminListen: '127.0.0.1:0' });
    cleanups.push(() => up.close());
    const reloader = await startReloader({ role: 'up', file: env.configFile, config: env.config, log, env: {}, targets: [up] });
    cleanups.push(() => reloader.stop());
    const port = up.relay.addresses[0]?.port ?? 0;
    const rcpt = async (): Promise<string | undefined> =>
      (await dialogue(port, ['EHLO client.example.org', 'MAIL FROM:<a@example.org>', 'RCPT TO:<b@example.org>', 'QUIT']))[3];
    const edit = (fn: (raw: Record<string, Record<string, unknown>>) => void): void => {
      const raw = parse(readFileSync(env.configFile, 'utf8')) as Record<string, Record<string, unknown>>;
      fn(raw);
      writeFileSync(env.configFile, stringify(raw));
    };
    expect(await rcpt()).toMatch(/^250/);

    edit((raw) => {
      raw.relay!.trustedNetworks = [];
      raw.relay!.auth = { usersFile: '/nonexistent/users' }; // needs relay.tls: invalid
    });
    expect((await reloader.reload()).reason).toMatch(/relay\.auth/);
    expect(await rcpt()).toMatch(/^250/);

    edit((raw) => {
      delete raw.relay!.auth;
      (raw.sources as unknown as Record<string, unknown>[])[0]!.schedule = '0 0 1 1 *';
    });
    expect(await reloader.reload()).toEqual({ ok: true, changed: ['sources', 'relay.trustedNetworks'] });
    expect(await rcpt()).toMatch(/^554 5\.7\.1/);
    expect([...up.worker.schedules.nextRuns().keys()]).toEqual(['corp:full']);
  });
});
