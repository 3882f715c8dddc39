/**
 * `switchyard up` runs its job processors on a thread of their own (src/main/job-thread-host.ts),
 * JOB_THREAD_NICE below the relay's CPU priority, so a sync never holds the event loop that
 * answers RCPT lookups (B4). Its jobs publish, a reload reaches it, its log lines reach the
 * process's log, and stopping `up` stops it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { pino } from 'pino';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createQueueEvents, IMPORT_QUEUE } from '../../src/jobqueue/queues.js';
import { censoredChildren, loggerOptions } from '../../src/log/logger.js';
import { jobThreadStarter } from '../../src/main/job-thread-host.js';
import { JOB_THREAD_NICE } from '../../src/main/job-thread-protocol.js';
import { startUp, type Up } from '../../src/main/up.js';
import { csvFixture, demoConfigObject, onlySources, testEnv, type TestEnv } from '../helpers/env.js';

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** The nice value of every thread of this process (Linux: /proc/self/task/TID/stat, field 19). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').flatMap((tid) => {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      return [Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])];
    } catch {
      return []; // the thread ended meanwhile
    }
  });
}

async function importJob(env: TestEnv, up: Up, source: string, file: string): Promise<unknown> {
  const connection = new Redis(env.redisUrl, { maxRetriesPerRequest: null });
  const events = createQueueEvents(connection, env.keys, IMPORT_QUEUE);
  try {
    const job = await up.worker.queues.import.add('import', { source, file }, { attempts: 1 });
    return await job.waitUntilFinished(events, 20_000);
  } finally {
    await events.close();
    connection.disconnect();
  }
}

describe('switchyard up: the job thread', () => {
  it('runs the jobs at a lower CPU priority than the relay, takes reloads, logs through the process, and stops with up', async () => {
    const env = await testEnv((raw) => {
      raw.sources = (raw.sources as { name: string }[]).filter((s) => s.name === 'corp');
      raw.relay = { listen: ['127.0.0.1:0'] };
    });
    cleanups.push(() => env.cleanup());
    const base = getPriority(0);
    const lowered = Math.min(19, base + JOB_THREAD_NICE);
    if (lowered === base) return; // a run already at nice 19: there is nothing lower to see
    expect(threadNices()).not.toContain(lowered);

    const lines: string[] = [];
    const log = censoredChildren(pino(loggerOptions('up', 'info'), { write: (line: string) => void lines.push(line) }));
    const threadLines: string[] = [];
    const up = await startUp({ config: env.config, log, adminListen: '127.0.0.1:0', writeLine: (line) => void threadLines.push(line) });
    let closed = false;
    cleanups.push(async () => {
      if (!closed) await up.close();
    });
    expect(threadNices()).toContain(lowered);
    expect(getPriority(0)).toBe(base); // the relay's thread keeps its priority
    const ready = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'SY_JOB_THREAD_READY');
    expect(ready).toMatchObject({ component: 'up', nice: lowered });
    expect(ready?.niceError).toBeUndefined();

    const result = (await importJob(env, up, 'corp', csvFixture('contoso.csv'))) as { version?: number };
    expect(result.version).toBe(1);
    expect(await env.redis.get(env.keys.current)).toBe('1');
    // the thread's lines went to writeLine, as whole JSON lines of up's logger
    const fromThread = threadLines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(fromThread.length).toBeGreaterThan(0);
    expect(threadLines.every((l) => l.endsWith('\n'))).toBe(true);
    for (const l of fromThread) expect(l).toMatchObject({ component: 'up', part: 'worker' });
    expect(fromThread.find((l) => l.event === 'SY_IMPORT_DONE')).toMatchObject({ source: 'corp', version: 1 });
    expect(lines.some((l) => l.includes('SY_IMPORT_DONE'))).toBe(false);

    // a source added by a reload: the thread's jobs know it
    const raw = demoConfigObject(env.namespace, env.redisUrl);
    raw.relay = { listen: ['127.0.0.1:0'] };
    await up.reconfigure(parseConfig(raw, env.configFile, {}));
    const students = (await importJob(env, up, 'students', csvFixture('students.csv'))) as { version?: number };
    expect(students.version).toBe(2);

    await up.close();
    closed = true;
    // the thread ends with up (terminate is asynchronous: give it a moment)
    for (let i = 0; i < 50 && threadNices().includes(lowered); i++) await new Promise((r) => setTimeout(r, 20));
    expect(threadNices()).not.toContain(lowered);
  });
});

describe('switchyard up: a job thread that stops', () => {
  const until = async (done: () => boolean): Promise<void> => {
    for (let i = 0; i < 250 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
  };

  it('a reload it cannot apply is refused and it runs on; ending unasked is a crash of the process; closing is not', async () => {
    const env = await testEnv(onlySources('corp'));
    cleanups.push(() => env.cleanup());
    const crashes: Error[] = [];
    const log = pino({ level: 'silent' });
    const start = jobThreadStarter({ log, writeLine: () => undefined, onCrash: (err) => void crashes.push(err) });

    // a configuration the processors cannot take: refused (the reloader keeps the running one), the thread goes on
    const refusing = await start({ config: env.config, env: {} });
    await expect(refusing.reconfigure(null as unknown as Config)).rejects.toThrow(/of null/);
    await refusing.reconfigure(env.config);
    expect(refusing.thread.threadId).toBeGreaterThan(0);
    await refusing.close();
    expect(crashes).toEqual([]);

    // a thread that ends without being asked to: its jobs would stop silently, so the process must not go on
    const ending = await start({ config: env.config, env: {} });
    await ending.thread.terminate();
    await until(() => crashes.length > 0);
    expect(crashes.map((e) => e.message)).toEqual(['the job thread exited (code 1)']);
    await expect(ending.reconfigure(env.config)).rejects.toThrow('the job thread has ended');
    await ending.close(); // a thread already gone: nothing to wait for
    expect(crashes).toHaveLength(1);
  });
});
