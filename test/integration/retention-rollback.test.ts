/**
 * Retention and rollback that holds (SPEC §3.2), on a real Redis: each source's last
 * full-sync version and every version younger than keepFor outlive versionsKept; a
 * rollback of one source pins it (scheduled syncs skip it, the table does not move) and
 * drops its watermark; a whole-table rollback to before a source existed is refused;
 * `source remove` goes through the deletion guard.
 */
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { publishDelta } from '../../src/pipeline/publish-delta.js';
import { applyRollback, planRollback } from '../../src/pipeline/rollback.js';
import { removeSource } from '../../src/pipeline/remove-source.js';
import { DeletionGuardError } from '../../src/pipeline/errors.js';
import type { PublishDeps } from '../../src/pipeline/types.js';
import { createLogger } from '../../src/log/logger.js';
import { startWorker } from '../../src/main/worker.js';
import { SYNC_QUEUE } from '../../src/jobqueue/queues.js';
import { readPins, unpin } from '../../src/store/pins.js';
import { sourceSchedule } from '../../src/store/source-schedule.js';
import { writeWatermark, readWatermark } from '../../src/store/sync-state.js';
import { readCurrent, readHistory, RollbackError } from '../../src/store/table.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
afterEach(async () => env.cleanup());

const spec = { name: 'corp', priority: 10, deletionThreshold: 500 };
const user = (n: number): DirectoryEntry => ({
  id: `CN=Delta ${n},DC=contoso,DC=edu`,
  dn: `CN=Delta ${n},DC=contoso,DC=edu`,
  objectClass: ['user'],
  proxyAddresses: [`SMTP:delta${n}@contoso.edu`],
});
const deltas = async (deps: PublishDeps, from: number, count: number): Promise<void> => {
  for (let n = from; n < from + count; n++) await publishDelta(deps, spec, [[{ upsert: user(n) }]], { cause: 'sync' });
};
const kept = async (): Promise<number[]> => (await readHistory(env.redis, env.keys)).map((v) => v.version);

describe('retention', () => {
  it('versionsKept 2, keepFor 0: the last two versions and each source’s last full-sync version stay, the rest goes', async () => {
    env = await testEnv((raw) => (raw.table = { versionsKept: 2, keepFor: '0ms' }));
    const deps = { ...env.deps, keepForMs: 0 };
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv')); // v1: corp full
    await importCsvde(deps, env.source('students'), csvFixture('students.csv')); // v2: students full, corp still bare
    await deltas(deps, 1, 12); // v3 … v14: corp overlays
    // v2 is the newest version whose corp state is its full snapshot; students' last full is the head
    expect(await kept()).toEqual([14, 13, 2]);
    expect(await env.redis.exists(env.keys.version(1), env.keys.version(3), env.keys.version(12))).toBe(0);
    // a rollback of corp to its last full sync is still possible
    const plan = await planRollback(env.redis, env.keys, env.config, { source: 'corp', to: 2 });
    expect(plan.changes).toMatchObject([{ source: 'corp', from: { objects: 267 + 12 }, to: { objects: 267 } }]);
    // the rollback's own version makes corp bare again: v2 is no longer needed for corp
    const r = await applyRollback(
      env.redis,
      env.keys,
      { ...env.config, table: { ...env.config.table, versionsKept: 2, keepFor: '0ms' } },
      plan,
    );
    expect(r).toMatchObject({ version: 15, restored: 2, pinned: ['corp'] });
    expect(await kept()).toEqual([15, 14]);
    // snapshots no kept version references are collected
    const referenced = new Set(
      (await readHistory(env.redis, env.keys)).flatMap((v) => [...v.snapshots.values()].flatMap((s) => s.split('+'))),
    );
    expect(Object.keys(await env.redis.hgetall(env.keys.snapshots)).sort()).toEqual([...referenced].sort());
  });

  it('versions younger than keepFor stay whatever versionsKept says', async () => {
    env = await testEnv((raw) => (raw.table = { versionsKept: 2, keepFor: '1h' }));
    const deps = { ...env.deps, keepForMs: 3_600_000 };
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    await deltas(deps, 1, 8);
    expect(await kept()).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1]);
    // once they are older than keepFor (here: a shorter keepFor), the next publish drops them
    await deltas({ ...deps, keepForMs: 0 }, 9, 1);
    expect(await kept()).toEqual([10, 9, 1]);
  });
});

describe('rollback', () => {
  it('of the whole table to before a source existed is refused, naming it; of one source it pins that source only', async () => {
    env = await testEnv();
    await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv')); // v1
    await importCsvde(env.deps, env.source('students'), csvFixture('students.csv')); // v2
    await deltas(env.deps, 1, 3); // v3 … v5
    await writeWatermark(env.redis, env.keys, 'corp', { mode: 'generic', modifyTimestamp: '20260101000000Z' });

    await expect(planRollback(env.redis, env.keys, env.config, { to: 1 })).rejects.toThrow(
      'refused: source students has no snapshot in version 1',
    );
    await expect(planRollback(env.redis, env.keys, env.config, { to: 42 })).rejects.toBeInstanceOf(RollbackError);
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(5);

    // default target with --source: the source's previous state (v4)
    expect((await planRollback(env.redis, env.keys, env.config, { source: 'corp' })).to).toBe(4);
    const before = await readCurrent(env.redis, env.keys);
    const plan = await planRollback(env.redis, env.keys, env.config, { source: 'corp', to: 1 });
    const r = await applyRollback(env.redis, env.keys, env.config, plan);
    expect(r).toMatchObject({ version: 6, restored: 1, pinned: ['corp'] });
    const after = await readCurrent(env.redis, env.keys);
    expect(after?.snapshots.get('students')).toBe(before?.snapshots.get('students'));
    expect(after?.snapshots.get('corp')).toBe((await readHistory(env.redis, env.keys)).at(-1)?.snapshots.get('corp'));
    expect(after?.meta).toMatchObject({ cause: 'rollback', source: 'corp', rollbackOf: 1 });
    expect(await readWatermark(env.redis, env.keys, 'corp')).toBeUndefined();
    const pins = await readPins(env.redis, env.keys);
    expect([...pins.keys()]).toEqual(['corp']);
    expect(pins.get('corp')).toMatchObject({ version: 1, tableVersion: 6 });
    const schedule = await sourceSchedule(env.redis, env.keys, env.config);
    expect(schedule.find((s) => s.source === 'corp')?.pinned).toMatchObject({ version: 1 });
    expect(schedule.find((s) => s.source === 'students')?.pinned).toBeUndefined();
    // the same state again changes nothing: refused
    await expect(planRollback(env.redis, env.keys, env.config, { source: 'corp', to: 1 })).rejects.toThrow(/nothing to change/);
  });

  it('a pinned source: its scheduled syncs are skipped and the table does not move; unpinned, the next one runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-pin-'));
    const file = tmpVariant(dir); // what the directory holds now
    env = await testEnv((raw) => {
      raw.sources = [{ name: 'corp', type: 'csvde', path: file, mailboxConnector: 'onprem', priority: 10, schedule: '* * * * * *' }];
    });
    await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv').replace('contoso.csv', 'contoso-utf16.csv')); // v1
    await importCsvde(env.deps, env.source('corp'), file); // v2
    const plan = await planRollback(env.redis, env.keys, env.config, { source: 'corp' });
    await applyRollback(env.redis, env.keys, env.config, plan); // v3: corp as in v1, pinned
    const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
    const events = new QueueEvents(SYNC_QUEUE, { connection, prefix: env.keys.bullPrefix });
    await events.waitUntilReady();
    const worker = await startWorker({ config: env.config, log: createLogger('test-worker', 'silent'), env: {} });
    try {
      const skipped: unknown[] = [];
      await new Promise<void>((resolve) => {
        events.on('completed', ({ returnvalue }) => {
          if ((returnvalue as unknown as { skipped?: string }).skipped === 'pinned') skipped.push(returnvalue);
          if (skipped.length >= 3) resolve();
        });
      });
      expect((await readCurrent(env.redis, env.keys))?.version).toBe(3);
      // unpinned (what `resume` does before its full sync), the next scheduled run publishes the file again
      await unpin(env.redis, env.keys, 'corp');
      const published = await new Promise<number>((resolve) => {
        events.on('completed', ({ returnvalue }) => {
          const v = (returnvalue as unknown as { version?: number }).version;
          if (typeof v === 'number' && v > 3) resolve(v);
        });
      });
      expect(published).toBe(4);
    } finally {
      await worker.close();
      await events.close();
      connection.disconnect();
    }
  });
});

describe('source remove', () => {
  it('refuses a configured source; for one that left the config, goes through the deletion guard', async () => {
    env = await testEnv();
    await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'));
    await importCsvde(env.deps, env.source('students'), csvFixture('students.csv'));
    await expect(removeSource(env.redis, env.keys, env.config, 'students')).rejects.toThrow(/still configured/);
    const config = { ...env.config, sources: env.config.sources.filter((s) => s.name !== 'students') };
    await expect(removeSource(env.redis, env.keys, config, 'nope')).rejects.toThrow(/not in the table/);
    await expect(removeSource(env.redis, env.keys, config, 'students')).rejects.toBeInstanceOf(DeletionGuardError);
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(2);
    const r = await removeSource(env.redis, env.keys, config, 'students', { allowMassDelete: true });
    expect(r).toMatchObject({ source: 'students', version: 3 });
    const now = await readCurrent(env.redis, env.keys);
    expect([...(now?.snapshots.keys() ?? [])]).toEqual(['corp']);
    expect(now?.meta).toMatchObject({ cause: 'remove', source: 'students' });
    // a removal whose last step failed left its pin and sync state: a second remove clears them
    await env.redis.hset(env.keys.pins, 'students', '{"version":2}');
    await env.redis.hset(env.keys.syncState, 'students', '{}');
    await expect(removeSource(env.redis, env.keys, config, 'students')).rejects.toThrow(
      /not in the table .*a pin or sync state it left was cleared/,
    );
    expect(await env.redis.hexists(env.keys.pins, 'students')).toBe(0);
    expect(await env.redis.hexists(env.keys.syncState, 'students')).toBe(0);
    await expect(removeSource(env.redis, env.keys, config, 'students')).rejects.toThrow(/not in the table \(its sources: corp\)$/);
  });
});

function tmpVariant(dir: string): string {
  const file = join(dir, 'variant.csv');
  writeFileSync(
    file,
    readFileSync(csvFixture('contoso.csv'), 'utf8').replace(
      'SMTP:ada.lovelace@contoso.edu',
      'SMTP:ada.lovelace@contoso.edu;smtp:ada2@contoso.edu',
    ),
  );
  return file;
}
