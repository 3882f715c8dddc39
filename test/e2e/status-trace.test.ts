/**
 * The status page's trace panels in headless Chromium (SPEC §11, issue 14): after sample
 * traffic a trace search shows the timeline the CLI shows, the per-connector charts have
 * data (counters in Redis), the last mail-flow test and the audit log are listed; a
 * screenshot is kept in test-artifacts/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { recordAudit } from '../../src/audit/log.js';
import { createLogger } from '../../src/log/logger.js';
import { runMailflow } from '../../src/mailflow/run.js';
import { freePort } from '../../src/main/embedded-redis.js';
import { projectRoot } from '../../src/main/paths.js';
import { startUp, type Up } from '../../src/main/up.js';
import { FAST_RELAY, relayEnv, type RelayEnv } from '../helpers/relay.js';
import { sendMail } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
let up: Up | undefined;
afterEach(async () => {
  await up?.close();
  up = undefined;
  await t?.cleanup();
  t = undefined;
});

describe('status page: message trace, charts, mail-flow test, audit log', () => {
  it('a trace search shows the timeline and the charts render with data after sample traffic', async () => {
    t = await relayEnv({ start: false, relay: FAST_RELAY });
    up = await startUp({
      config: t.env.config,
      log: createLogger('status-trace', 'silent'),
      adminListen: `127.0.0.1:${await freePort()}`,
      pollMs: 100,
    });
    const port = up.relay.addresses[0]?.port ?? 0;
    await sendMail({ port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu'] });
    await sendMail({ port, from: 'sender@example.org', to: ['brian.lovelace@contoso.edu'] });
    await t.sinks.onprem.waitFor(2);
    await t.sinks.cloud.waitFor(1);
    await runMailflow(t.env.redis, t.env.keys, t.env.config, { send: false, sample: 2 });
    await recordAudit(t.env.redis, t.env.keys, 1000, {
      who: 'os:tester',
      action: 'queue-hold',
      what: '--hop legacy',
      result: '0 of 0 unit(s) changed',
    });

    const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.goto(up.admin.url);
      await page.fill('#trace-value', 'ada.lovelace@contoso.edu');
      await page.click('#trace-search button[type=submit]');
      await page.waitForSelector('#trace [data-trace-id]');
      const timeline = (await page.textContent('#trace')) ?? '';
      expect(timeline).toContain('rcpt <ada.lovelace@contoso.edu> routed to onprem');
      expect(timeline).toContain('received from <sender@example.org> client 127.0.0.1');
      expect(timeline).toMatch(/delivered <ada\.lovelace@contoso\.edu> hop onprem host 127\.0\.0\.1:\d+: 250/);
      expect(timeline).toMatch(/delivered <ada\.ivanov@live\.contoso\.edu> hop cloud/);

      // the charts: per connector, from the Redis counters every relay adds to
      await page.waitForSelector('#charts svg[aria-label="onprem"] polyline[data-series="delivered"]');
      expect(await page.textContent('#charts svg[aria-label="onprem"]')).toContain('accepted 2');
      expect(await page.textContent('#charts svg[aria-label="onprem"]')).toContain('delivered 2');
      expect(await page.textContent('#charts svg[aria-label="cloud"]')).toContain('delivered 1');
      expect(await page.locator('#charts svg[aria-label="queue depth"]').count()).toBe(1);
      await page.selectOption('#chart-range', 'day');
      await page.waitForSelector('#charts svg[aria-label="onprem"] polyline[data-series="accepted"]');
      expect(await page.textContent('#charts svg[aria-label="onprem"]')).toContain('accepted 2');

      await page.waitForSelector('#mailflow .ok');
      expect(await page.textContent('#mailflow')).toMatch(/all \d+ checks hold/);
      await page.waitForSelector('#audit td:has-text("os:tester")');
      expect(await page.textContent('#audit')).toContain('queue-hold');

      const dir = join(projectRoot(), 'test-artifacts');
      mkdirSync(dir, { recursive: true });
      await page.screenshot({ path: join(dir, 'status-page-trace.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
