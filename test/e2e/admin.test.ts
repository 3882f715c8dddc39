/**
 * `switchyard up` and its admin HTTP (SPEC §7): /healthz readiness, /metrics that move with
 * traffic, the JSON API behind the status page, rollback, the BullMQ dashboard, the token,
 * and the status page itself in a real headless Chromium (playwright-core), with a
 * screenshot kept in test-artifacts/.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { freePort, startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';
import { projectRoot } from '../../src/main/paths.js';
import { startUp, type Up } from '../../src/main/up.js';
import { FAST_RELAY, relayEnv, type RelayEnv } from '../helpers/relay.js';
import { sendMail } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
let up: Up | undefined;
let redis: EmbeddedRedis | undefined;
afterEach(async () => {
  await up?.close();
  up = undefined;
  await t?.cleanup();
  t = undefined;
  await redis?.stop();
  redis = undefined;
});

async function startEnv(o: Parameters<typeof relayEnv>[0] = {}, env: NodeJS.ProcessEnv = {}): Promise<Up> {
  t = await relayEnv({ start: false, ...o });
  up = await startUp({
    config: t.env.config,
    log: createLogger('admin-test', 'silent'),
    env,
    adminListen: `127.0.0.1:${await freePort()}`,
    pollMs: 100,
  });
  return up;
}

const get = async (url: string, init?: RequestInit) => {
  const r = await fetch(url, init);
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') ?? '' };
};

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('admin HTTP', () => {
  it('/healthz is ready only when Redis answers and a table is published', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-admin-redis-'));
    redis = await startRedis({ dir, persistence: true });
    const u = await startEnv({ publish: false, redisUrl: redis.url });
    expect(JSON.parse((await get(`${u.admin.url}healthz`)).text)).toEqual({
      status: 'unready',
      redis: 'ok',
      tableVersion: null,
      complete: false,
      missingSources: ['corp'],
      staleSources: [],
    });
    expect((await get(`${u.admin.url}healthz`)).status).toBe(503);
    const { importCsvde } = await import('../../src/pipeline/import-csvde.js');
    const { csvFixture } = await import('../helpers/env.js');
    await importCsvde(t!.env.deps, t!.env.source('corp'), csvFixture('contoso.csv'));
    const ready = await get(`${u.admin.url}healthz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toEqual({
      status: 'ready',
      redis: 'ok',
      tableVersion: 1,
      complete: true,
      missingSources: [],
      staleSources: [],
    });
    const port = redis.port;
    await redis.stop();
    const down = await get(`${u.admin.url}healthz`);
    expect(down.status).toBe(503);
    expect(JSON.parse(down.text)).toMatchObject({ status: 'unready', redis: 'unavailable' });
    // back with its append-only file: ready again, same table
    redis = await startRedis({ dir, persistence: true, port });
    for (let i = 0; i < 50 && (await get(`${u.admin.url}healthz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    expect(JSON.parse((await get(`${u.admin.url}healthz`)).text)).toEqual({
      status: 'ready',
      redis: 'ok',
      tableVersion: 1,
      complete: true,
      missingSources: [],
      staleSources: [],
    });
  });

  it('/metrics counts decisions, acceptances and deliveries, and reads queue, table and sources from Redis', async () => {
    const u = await startEnv({ sources: ['corp', 'students'] });
    const before = (await get(`${u.admin.url}metrics`)).text;
    expect(metric(before, 'switchyard_table_version')).toBe(1);
    const port = u.relay.addresses[0]?.port ?? 0;
    await sendMail({ port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu'] });
    await t!.sinks.onprem.waitFor(1);
    await t!.sinks.cloud.waitFor(1);
    await new Promise((r) => setTimeout(r, 300));
    const after = await get(`${u.admin.url}metrics`);
    expect(after.type).toMatch(/^text\/plain/);
    expect(metric(after.text, 'switchyard_rcpt_decisions_total', 'reason="mailbox",action="route"')).toBe(1);
    expect(metric(after.text, 'switchyard_rcpt_decisions_total', 'reason="target-address",action="route"')).toBe(1);
    expect(metric(after.text, 'switchyard_messages_accepted_total')).toBe(1);
    expect(metric(after.text, 'switchyard_deliveries_total', 'outcome="delivered",hop="onprem"')).toBe(1);
    expect(metric(after.text, 'switchyard_deliveries_total', 'outcome="delivered",hop="cloud"')).toBe(1);
    expect(metric(after.text, 'switchyard_rcpt_decision_seconds_count')).toBe(2);
    expect(metric(after.text, 'switchyard_queue_units', 'state="ready"')).toBe(0);
    // a run recorded by a job on up's worker shows per source
    const { csvFixture } = await import('../helpers/env.js');
    const { createQueueEvents, IMPORT_QUEUE } = await import('../../src/jobqueue/queues.js');
    const { Redis } = await import('ioredis');
    const connection = new Redis(t!.env.redisUrl, { maxRetriesPerRequest: null });
    const events = createQueueEvents(connection, t!.env.keys, IMPORT_QUEUE);
    try {
      const job = await u.worker.queues.import.add('import', { source: 'students', file: csvFixture('students.csv') });
      await job.waitUntilFinished(events, 20_000);
    } finally {
      await events.close();
      connection.disconnect();
    }
    const withRun = (await get(`${u.admin.url}metrics`)).text;
    expect(metric(withRun, 'switchyard_source_objects', 'source="students"')).toBe(121);
    expect(metric(withRun, 'switchyard_sync_last_ok', 'source="students"')).toBe(1);
    expect(metric(withRun, 'switchyard_sync_runs', 'source="students"')).toBe(1);
    expect(metric(withRun, 'switchyard_table_version')).toBe(2);
    expect(after.text).toContain('switchyard_process_cpu_user_seconds_total');
  });

  it('serves the status API, resolves, rolls back, and shows the BullMQ dashboard', async () => {
    const u = await startEnv({ sources: ['corp', 'students'] });
    const { importCsvde } = await import('../../src/pipeline/import-csvde.js');
    const { csvFixture } = await import('../helpers/env.js');
    await importCsvde(t!.env.deps, t!.env.source('students'), csvFixture('students.csv'));
    const status = JSON.parse((await get(`${u.admin.url}api/status`)).text) as {
      table: { tableVersion: number; sources: unknown[]; history: unknown[] };
      queue: Record<string, number>;
      conflicts: unknown[];
    };
    expect(status.table.tableVersion).toBe(2);
    expect(status.table.sources).toHaveLength(2);
    expect(status.queue).toEqual({ ready: 0, active: 0, held: 0 });
    expect(status.conflicts.length).toBeGreaterThan(0);
    const d = JSON.parse((await get(`${u.admin.url}api/resolve?address=ada.ivanov@contoso.edu`)).text);
    expect(d).toMatchObject({
      action: 'route',
      recipient: 'ada.ivanov@live.contoso.edu',
      connector: 'cloud',
      reason: 'target-address',
      tableVersion: 2,
    });
    const rollback = (body: unknown) =>
      fetch(`${u.admin.url}api/rollback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    // the same rules as the CLI: version 1 predates students, the whole table may not go back there
    const refused = await rollback({ to: 1 });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: string }).error).toMatch(/^refused: source students has no snapshot in version 1/);
    // students without s100007 (v3), then students alone back to its previous state (v2): pinned
    const dir = mkdtempSync(join(tmpdir(), 'sy-admin-'));
    const fewer = join(dir, 'students.csv');
    writeFileSync(fewer, readFileSync(csvFixture('students.csv'), 'utf8').replace(/\n[^\n]*s100007@[^\n]*/, ''));
    await importCsvde(t!.env.deps, t!.env.source('students'), fewer);
    expect(JSON.parse((await get(`${u.admin.url}api/resolve?address=s100007@contoso.edu`)).text)).toMatchObject({
      reason: 'internal-relay',
      tableVersion: 3,
    });
    const back = await rollback({ source: 'students' });
    expect(await back.json()).toMatchObject({ version: 4, restored: 2, pinned: ['students'] });
    // the audit log names the status page as who (SPEC §11); the refused one never ran
    const audit = JSON.parse((await get(`${u.admin.url}api/audit`)).text) as {
      who: string;
      action: string;
      what: string;
      result: string;
    }[];
    expect(audit).toEqual([
      expect.objectContaining({
        who: 'admin:http',
        action: 'rollback',
        what: 'source students to version previous',
        result: 'published version 4',
      }),
    ]);
    expect(JSON.parse((await get(`${u.admin.url}api/resolve?address=s100007@contoso.edu`)).text)).toMatchObject({
      action: 'route',
      reason: 'mailbox',
      tableVersion: 4,
    });
    const pinned = JSON.parse((await get(`${u.admin.url}api/status`)).text) as { schedule: { source: string; pinned?: unknown }[] };
    expect(pinned.schedule.find((x) => x.source === 'students')?.pinned).toMatchObject({ version: 2, tableVersion: 4 });
    const board = await get(`${u.admin.url}queues`);
    expect(board.status).toBe(200);
    expect(board.text).toMatch(/bull/i);
  });

  it('requires the bearer token or the sign-in cookie when a token is configured, never in the URL; /healthz stays open', async () => {
    const u = await startEnv(
      { adjust: (raw) => (raw.admin = { listen: '127.0.0.1:8025', tokenEnv: 'SY_TEST_ADMIN_TOKEN' }) },
      { SY_TEST_ADMIN_TOKEN: 'tok-123' },
    );
    expect((await get(`${u.admin.url}healthz`)).status).toBe(200);
    expect((await get(`${u.admin.url}api/status`)).status).toBe(401);
    expect((await get(`${u.admin.url}api/status?token=tok-123`)).status).toBe(401);
    expect((await get(`${u.admin.url}metrics?token=tok-123`)).status).toBe(401);
    expect((await get(`${u.admin.url}metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await get(`${u.admin.url}metrics`, { headers: { authorization: 'Bearer tok-123' } })).status).toBe(200);
    // a browser asking for the page is sent to the sign-in
    const page = await fetch(u.admin.url, { headers: { accept: 'text/html' }, redirect: 'manual' });
    expect(page.status).toBe(303);
    expect(page.headers.get('location')).toBe('/signin');
    const signin = (token: string) =>
      fetch(`${u.admin.url}api/signin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token }),
      });
    expect((await signin('wrong')).status).toBe(401);
    const ok = await signin('tok-123');
    expect(ok.status).toBe(200);
    const setCookie = ok.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^sy_admin=\d+\.[\w-]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    expect(setCookie).not.toContain('tok-123');
    const cookie = setCookie.split(';')[0] ?? '';
    expect((await get(`${u.admin.url}api/status`, { headers: { cookie } })).status).toBe(200);
    expect((await get(`${u.admin.url}queues`, { headers: { cookie } })).status).toBe(200);
    expect((await get(`${u.admin.url}api/status`, { headers: { cookie: 'sy_admin=99999999999.forged' } })).status).toBe(401);
  });

  it('refuses cross-origin, non-JSON, rebinding, oversized and malformed requests, and changes nothing', async () => {
    const u = await startEnv();
    const url = `${u.admin.url}api/rollback`;
    const post = (headers: Record<string, string>, body: string | Uint8Array) => fetch(url, { method: 'POST', headers, body });
    const version = async () =>
      (JSON.parse((await get(`${u.admin.url}api/status`)).text) as { table: { tableVersion: number } }).table.tableVersion;
    expect(await version()).toBe(1);
    const host = new URL(u.admin.url).host;
    // the probe: a text/plain POST from a page elsewhere
    expect((await post({ 'content-type': 'text/plain', origin: 'http://evil.example' }, '{}')).status).toBe(403);
    expect((await post({ 'content-type': 'application/json', origin: 'http://evil.example' }, '{}')).status).toBe(403);
    expect((await post({ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }, '{}')).status).toBe(403);
    // a simple (no-preflight) cross-site form, even without Origin
    expect((await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'to=1')).status).toBe(415);
    expect((await post({ 'content-type': 'text/plain', origin: `http://${host}` }, '{}')).status).toBe(415);
    // DNS rebinding: evil.example resolved to 127.0.0.1 is still not this admin's name
    // (fetch may not set Host: a plain node:http request does)
    const rebound = await new Promise<number>((resolve, reject) => {
      const { port } = new URL(u.admin.url);
      const req = request({ host: '127.0.0.1', port, path: '/api/status', headers: { host: `evil.example:${port}` } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.once('error', reject).end();
    });
    expect(rebound).toBe(421);
    // the probe: a 50 MB body and malformed JSON
    expect((await post({ 'content-type': 'application/json' }, new Uint8Array(50 * 1024 * 1024).fill(0x20))).status).toBe(413);
    const malformed = await post({ 'content-type': 'application/json' }, '{"to": 1');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toEqual({ error: 'the body is not valid JSON' });
    expect(await version()).toBe(1);
    // same origin, JSON: accepted (and refused by the rollback rules only: one version)
    expect(
      (await post({ 'content-type': 'application/json', origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }, '{}')).status,
    ).toBe(409);
  });

  it('refuses to start an admin off loopback without a token, for admin.listen and --admin-listen', async () => {
    t = await relayEnv({ start: false });
    const { assertAdminListen } = await import('../../src/main/admin.js');
    expect(() => assertAdminListen(t!.env.config, '0.0.0.0:8025', {})).toThrow(
      'admin.tokenEnv: required when the admin listens on 0.0.0.0:8025 (--admin-listen), which is not a loopback address',
    );
    await expect(
      startUp({ config: t.env.config, log: createLogger('admin-test', 'silent'), env: {}, adminListen: `0.0.0.0:${await freePort()}` }),
    ).rejects.toThrow(/admin\.tokenEnv: required/);
    const { main } = await import('../../src/cli/main.js');
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = (chunk: string) => errors.push(String(chunk)) > 0;
    try {
      expect(await main(['node', 'switchyard', 'relay', '--config', t.env.configFile, '--admin-listen', '0.0.0.0:8025'])).toBe(1);
    } finally {
      process.stderr.write = write;
    }
    expect(errors.join('')).toContain('admin.tokenEnv: required when the admin listens on 0.0.0.0:8025 (--admin-listen)');
    expect(() => assertAdminListen(t!.env.config, '[::1]:8025', {})).not.toThrow();
    // admin.listen itself: refused by validation, before anything starts
    const { parseConfig } = await import('../../src/config/load.js');
    expect(() => parseConfig({ admin: { listen: '0.0.0.0:8025' } }, 'admin.yaml', {})).toThrow(
      'admin.tokenEnv: required when admin.listen (0.0.0.0:8025) is not a loopback address',
    );
  });
});

describe('status page in headless Chromium', () => {
  it('loads, shows the table, and a search shows the decision; a screenshot is kept', async () => {
    const u = await startEnv({ relay: FAST_RELAY });
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(u.admin.url);
      await page.waitForSelector('#version:has-text("table version 1")');
      await page.waitForSelector('#sources td:has-text("corp")');
      await page.waitForSelector('#complete.ok:has-text("complete")');
      await page.fill('#address', 'Ada.Ivanov@contoso.edu');
      await page.click('button[type=submit]');
      await page.waitForSelector('#decision[data-action="route"]');
      const text = await page.textContent('#decision');
      expect(text).toContain('250 2.1.5 Accepted');
      expect(text).toContain('"recipient": "ada.ivanov@live.contoso.edu"');
      expect(text).toContain('"reason": "target-address"');
      await page.fill('#address', 'nobody@chem.lab.contoso.edu');
      await page.click('button[type=submit]');
      await page.waitForSelector('#decision[data-action="reject"]');
      expect(await page.textContent('#decision')).toContain('550 5.1.1');
      const dir = join(projectRoot(), 'test-artifacts');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'status-page.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});

describe('sign-in in headless Chromium', () => {
  it('signs in with the token; the status page and the job dashboard work with the cookie', async () => {
    const u = await startEnv(
      { adjust: (raw) => (raw.admin = { listen: '127.0.0.1:8025', tokenEnv: 'SY_TEST_ADMIN_TOKEN' }) },
      { SY_TEST_ADMIN_TOKEN: 'tok-456' },
    );
    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage();
      await page.goto(u.admin.url);
      expect(new URL(page.url()).pathname).toBe('/signin');
      await page.fill('#token', 'wrong');
      await page.click('button[type=submit]');
      await page.waitForSelector('#error:has-text("wrong token")');
      await page.fill('#token', 'tok-456');
      await page.click('button[type=submit]');
      await page.waitForSelector('#version:has-text("table version 1")');
      await page.fill('#address', 'Ada.Ivanov@contoso.edu');
      await page.click('button[type=submit]');
      await page.waitForSelector('#decision[data-action="route"]');
      const cookies = await page.context().cookies();
      expect(cookies.find((c) => c.name === 'sy_admin')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
      await page.goto(`${u.admin.url}queues`);
      await page.waitForSelector('text=/import/i', { timeout: 15_000 });
      expect(new URL(page.url()).pathname).toMatch(/^\/queues/);
    } finally {
      await browser.close();
    }
  });
});
