/**
 * SPEC §2.2: a source whose last successful sync or import is older than `staleAfter` is
 * reported stale in `status` / `status --json`, on /healthz (still 200, ready) and in the
 * metrics. The last success is recorded as the jobs and commands record it (recordRun),
 * dated in the past, so nothing waits for time to pass.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { processAdmin } from '../../src/main/admin.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { cronIntervalMs, staleAfterMs } from '../../src/report/health.js';
import { recordRun } from '../../src/store/runs.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
let env: TestEnv;
let admin: ReturnType<typeof processAdmin> | undefined;

beforeEach(async () => {
  env = await testEnv((raw) => {
    const [corp, students] = raw.sources as Record<string, unknown>[];
    if (!corp || !students) throw new Error('demo sources');
    corp.staleAfter = '1h';
    students.schedule = '*/10 * * * *'; // default staleAfter: three intervals, 30 min
  });
});
afterEach(async () => {
  await admin?.close();
  admin = undefined;
  await env.cleanup();
});

function status(): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [BIN, 'status', '--json'],
      { env: { ...process.env, REDIS_URL: '', SWITCHYARD_CONFIG: env.configFile } },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout) as Record<string, unknown>),
    );
  });
}

const metric = (text: string, name: string, source: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{source="${source}"} `));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
};

describe('stale sources', () => {
  it('defaults staleAfter to three intervals of the more frequent schedule; none without a schedule', () => {
    expect(cronIntervalMs('*/10 * * * *')).toBe(600_000);
    expect(staleAfterMs(env.source('students'))).toBe(1_800_000);
    expect(staleAfterMs(env.source('corp'))).toBe(3_600_000);
    const ldap = { ...env.source('students'), type: 'ldap', schedule: '0 2 * * *', deltaSchedule: '*/2 * * * *' } as unknown as Parameters<
      typeof staleAfterMs
    >[0];
    expect(staleAfterMs(ldap)).toBe(360_000);
    const { schedule: _none, ...unscheduled } = env.source('students');
    expect(staleAfterMs(unscheduled as Parameters<typeof staleAfterMs>[0])).toBeUndefined();
  });

  it('a source with no success for longer than staleAfter: stale in status, /healthz 200 with the list, metric set', async () => {
    await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'));
    await importCsvde(env.deps, env.source('students'), csvFixture('students.csv'));
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000).toISOString();
    await recordRun(env.redis, env.keys, { source: 'corp', kind: 'import', at: twoHoursAgo, ok: true, durationMs: 10, version: 1 });
    // a later failure does not reset the clock: staleness runs from the last success
    await recordRun(env.redis, env.keys, {
      source: 'corp',
      kind: 'import',
      at: new Date().toISOString(),
      ok: false,
      durationMs: 5,
      error: 'x',
    });
    await recordRun(env.redis, env.keys, { source: 'students', kind: 'import', at: new Date().toISOString(), ok: true, durationMs: 10 });

    const s = await status();
    expect(s).toMatchObject({ complete: true, missingSources: [], staleSources: ['corp'] });
    const rows = s.staleness as Record<string, unknown>[];
    expect(rows.find((r) => r.source === 'corp')).toMatchObject({
      stale: true,
      lastSuccess: twoHoursAgo,
      staleSince: new Date(Date.parse(twoHoursAgo) + 3_600_000).toISOString(),
      staleAfterSeconds: 3600,
    });
    expect(rows.find((r) => r.source === 'students')).toMatchObject({ stale: false, staleSince: null, staleAfterSeconds: 1800 });

    admin = processAdmin(env.config, createLogger('stale-test', 'silent'), {});
    const { url } = await admin.listen({ listen: '127.0.0.1:0' });
    const health = await fetch(`${url}healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ready', complete: true, staleSources: ['corp'] });
    const text = await (await fetch(`${url}metrics`)).text();
    expect(metric(text, 'switchyard_source_stale', 'corp')).toBe(1);
    expect(metric(text, 'switchyard_source_stale', 'students')).toBe(0);
    expect(metric(text, 'switchyard_source_last_success_age_seconds', 'corp')).toBeGreaterThan(7200);
    expect(metric(text, 'switchyard_source_stale_after_seconds', 'corp')).toBe(3600);
    expect(text).toMatch(/^switchyard_table_complete 1$/m);

    // a success now: fresh again
    await recordRun(env.redis, env.keys, { source: 'corp', kind: 'import', at: new Date().toISOString(), ok: true, durationMs: 10 });
    expect(await (await fetch(`${url}healthz`)).json()).toMatchObject({ status: 'ready', staleSources: [] });
    expect(metric(await (await fetch(`${url}metrics`)).text(), 'switchyard_source_stale', 'corp')).toBe(0);
  });
});
