/**
 * Rollback that holds, on a real AD (Samba) with a delta sync every second (SPEC §3.2),
 * with versionsKept 2 and keepFor 0 (the full-sync version must survive on its own):
 * after ≥ 20 deltas carrying changes made in AD, `rollback --source corp-ad --to` the last
 * full-sync version pins the source — the scheduled deltas skip it and the table does
 * not move while AD keeps changing — and `resume` runs a full sync after which the table
 * has every change made in AD meanwhile (nothing lost to a stale watermark).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYNC_QUEUE } from '../../src/jobqueue/queues.js';
import { createLogger } from '../../src/log/logger.js';
import { startWorker, type WorkerProcess } from '../../src/main/worker.js';
import { syncSource } from '../../src/pipeline/sync-source.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { readPins } from '../../src/store/pins.js';
import { readWatermark } from '../../src/store/sync-state.js';
import { readCurrent, readHistory } from '../../src/store/table.js';
import { AD_BASE } from '../../testkit/embedded-samba.js';
import type { TestEnv } from '../helpers/env.js';
import { adSource, adminClient, cleanupAd, seededAd, type SeededAd, type SeededSamba } from '../helpers/samba.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
let dc: SeededSamba;
let env: TestEnv;
let secrets: SeededAd['secrets'];

beforeAll(async () => {
  ({ dc, env, secrets } = await seededAd((raw, seeded) => {
    // the shortest retention: only the last two versions and corp-ad's last full sync survive the deltas
    raw.table = { versionsKept: 2, keepFor: '0ms' };
    raw.sources = [adSource(seeded, { deltaSchedule: '* * * * * *' })];
  }));
}, 120_000);
afterAll(() => cleanupAd({ dc, env }));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, ...secrets, REDIS_URL: '', SWITCHYARD_CONFIG: env.configFile } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

async function reasons(addresses: string[]): Promise<string[]> {
  const resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
  return (await resolver.resolve(addresses, false)).map((d) => d.reason);
}

interface Done {
  mode?: string;
  version?: number;
  unchanged?: boolean;
  skipped?: string;
}

/** Completed sync jobs, in order, as the worker reports them. */
function collect(events: QueueEvents): { done: Done[]; until(pred: (d: Done[]) => boolean): Promise<void> } {
  const done: Done[] = [];
  const waiters: { pred: (d: Done[]) => boolean; resolve: () => void }[] = [];
  events.on('completed', ({ returnvalue }) => {
    done.push(returnvalue as unknown as Done);
    for (const w of [...waiters]) {
      if (!w.pred(done)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  return {
    done,
    until: (pred) => (pred(done) ? Promise.resolve() : new Promise((resolve) => waiters.push({ pred, resolve }))),
  };
}

const staff = (i: number): string => `CN=Roll ${i},OU=Staff,${AD_BASE}`;
const address = (i: number): string => `roll${i}@contoso.edu`;

describe('rollback of an AD source under a delta every second', () => {
  it('pins the source, no sync runs while pinned, resume brings back every change made meanwhile', async () => {
    const full = await syncSource(env.deps, env.source('corp-ad'), { env: secrets, mode: 'full' });
    expect(full).toMatchObject({ mode: 'full', version: 1 });

    const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
    const events = new QueueEvents(SYNC_QUEUE, { connection, prefix: env.keys.bullPrefix });
    await events.waitUntilReady();
    const jobs = collect(events);
    let worker: WorkerProcess | undefined = await startWorker({
      config: env.config,
      log: createLogger('test-worker', 'silent'),
      env: secrets,
    });
    const ad = await adminClient(dc);
    try {
      // ≥ 20 deltas, each publishing a change made in AD just before
      const published = () => jobs.done.filter((d) => d.mode === 'delta' && d.version !== undefined && d.unchanged !== true).length;
      for (let i = 0; i < 20; i++) {
        await ad.add(staff(i), { objectClass: 'user', sAMAccountName: `roll${i}`, proxyAddresses: [`SMTP:${address(i)}`] });
        await jobs.until(() => published() > i);
      }
      expect(published()).toBeGreaterThanOrEqual(20);
      const kept = (await readHistory(env.redis, env.keys)).map((v) => v.version);
      expect(kept).toHaveLength(3);
      expect(kept.at(-1)).toBe(1);
      expect(await reasons([address(0), address(19)])).toEqual(['mailbox', 'mailbox']);

      // roll corp-ad back to its last full sync (version 1, still kept: SPEC §3.2)
      const rb = await cli(['rollback', '--source', 'corp-ad', '--to', '1', '--yes']);
      expect(rb.stderr).toBe('');
      expect(rb.stdout).toContain('rollback of source corp-ad to its state in table version 1');
      expect(rb.stdout).toMatch(/pinned: corp-ad/);
      const pinnedAt = (await readCurrent(env.redis, env.keys))?.version ?? 0;
      expect(await reasons([address(0), address(19)])).toEqual(['internal-relay', 'internal-relay']);
      expect(await readWatermark(env.redis, env.keys, 'corp-ad')).toBeUndefined();
      expect((await readPins(env.redis, env.keys)).get('corp-ad')).toMatchObject({ version: 1 });
      const status = JSON.parse((await cli(['status', '--json'])).stdout) as { schedule: { source: string; pinned?: unknown }[] };
      expect(status.schedule.find((s) => s.source === 'corp-ad')?.pinned).toMatchObject({ version: 1 });
      expect((await cli(['status'])).stdout).toContain('corp-ad: paused since rollback to v1');

      // AD keeps changing while pinned: the scheduled deltas skip the source, the table stays
      await ad.add(staff(20), { objectClass: 'user', sAMAccountName: 'roll20', proxyAddresses: [`SMTP:${address(20)}`] });
      await ad.del(staff(3));
      const skippedBefore = jobs.done.filter((d) => d.skipped === 'pinned').length;
      await jobs.until((d) => d.filter((x) => x.skipped === 'pinned').length >= skippedBefore + 3);
      expect((await readCurrent(env.redis, env.keys))?.version).toBe(pinnedAt);
      expect(await reasons([address(20)])).toEqual(['internal-relay']);
      // a requested sync is refused, pointing at resume
      const refused = await cli(['sync', 'corp-ad']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('switchyard resume corp-ad');

      // resume: unpinned, a full sync through the worker; the table has every change made in AD
      const resumed = await cli(['resume', 'corp-ad']);
      expect(resumed.stderr).not.toContain('switchyard:'); // progress lines only
      expect(resumed.code).toBe(0);
      expect(resumed.stdout).toMatch(/full sync \(worker\)/);
      expect(await readPins(env.redis, env.keys)).toEqual(new Map());
      const all = Array.from({ length: 21 }, (_, i) => address(i));
      const expected = all.map((_, i) => (i === 3 ? 'internal-relay' : 'mailbox'));
      expect(await reasons(all)).toEqual(expected);
      // and the deltas go on from the fresh watermark
      await ad.add(staff(21), { objectClass: 'user', sAMAccountName: 'roll21', proxyAddresses: [`SMTP:${address(21)}`] });
      const after = jobs.done.length;
      await jobs.until((d) => d.slice(after).some((x) => x.mode === 'delta' && x.version !== undefined && x.unchanged !== true));
      expect(await reasons([address(21)])).toEqual(['mailbox']);
    } finally {
      await ad.unbind();
      await worker?.close();
      worker = undefined;
      await events.close();
      connection.disconnect();
    }
  }, 300_000);
});
