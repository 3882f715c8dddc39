/**
 * The long-running processes log through an asynchronous destination (src/log/service.ts):
 * buffered lines must all reach the output when the process is stopped right after logging
 * them (SIGTERM), when it dies of a fatal error (flushed synchronously, exit 1), and a quiet
 * process's lines must still arrive without more logging. Real processes from dist/ (run
 * `npm run build` first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/main/embedded-redis.js';
import { projectRoot } from '../../src/main/paths.js';
import { BIN, runCli } from '../helpers/cli.js';
import { csvFixture, onlySources, testEnv, type TestEnv } from '../helpers/env.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { spawnRelay } from '../helpers/relay-process.js';
import { message } from '../helpers/smtp.js';
import { until } from '../helpers/mail-run.js';
import { openSession } from '../helpers/smtp-session.js';

const PRELOAD = join(projectRoot(), 'test', 'helpers', 'fatal-preload.mjs');
const THREAD_PRELOAD = join(projectRoot(), 'test', 'helpers', 'thread-fatal-preload.mjs');
const MESSAGES = 20;
const RCPTS = 3;

type Line = Record<string, unknown> & { event?: string; level?: number };

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.reverse()) await c();
  cleanups = [];
});

/** Everything the process writes to stderr from now on, and how it exits. */
function capture(proc: ChildProcess): { text: () => string; exited: Promise<number | null> } {
  let text = '';
  proc.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const exited = new Promise<number | null>((resolve) =>
    proc.exitCode !== null ? resolve(proc.exitCode) : proc.once('exit', (code) => resolve(code)),
  );
  return { text: () => text, exited };
}

/** Every line must be whole JSON: a line cut in the middle fails here. */
const parse = (text: string): Line[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Line);

const count = (lines: Line[], event: string): number => lines.filter((l) => l.event === event).length;

/** A relay process at LOG_LEVEL=debug (every RCPT logged) on the test's sinks. */
async function debugRelay(env: NodeJS.ProcessEnv = {}): Promise<{ t: RelayEnv; port: number; proc: ChildProcess }> {
  const port = await freePort();
  const t = await relayEnv({ start: false, relay: { listen: [`127.0.0.1:${port}`] } });
  cleanups.push(() => t.cleanup());
  const relay = await spawnRelay(t.env.configFile, { LOG_LEVEL: 'debug', ...env });
  cleanups.push(() => relay.kill('SIGKILL'));
  return { t, port, proc: relay.proc };
}

/** MESSAGES messages of RCPTS outbound recipients each (trusted client: routed), on one session. */
async function sendMessages(port: number): Promise<void> {
  const s = await openSession(port);
  expect(await s.send('EHLO client.example.org')).toMatch(/^250/);
  for (let m = 0; m < MESSAGES; m++) {
    expect(await s.send('MAIL FROM:<sender@example.org>')).toMatch(/^250/);
    for (let r = 0; r < RCPTS; r++) expect(await s.send(`RCPT TO:<m${m}.r${r}@example.org>`)).toMatch(/^250/);
    expect(await s.send('DATA')).toMatch(/^354/);
    expect(await s.send({ raw: `${message(`flush ${m}`)}.\r\n` })).toMatch(/^250/);
  }
  expect(await s.send('QUIT')).toMatch(/^221/);
  s.close();
}

describe('relay log on the way out', () => {
  it('SIGTERM right after a burst of lines: every line is in the output, whole, and the stop is logged', async () => {
    const { port, proc } = await debugRelay();
    const out = capture(proc);
    await sendMessages(port);
    proc.kill('SIGTERM');
    expect(await out.exited).toBe(0);
    const lines = parse(out.text());
    expect(count(lines, 'SY_RCPT')).toBe(MESSAGES * RCPTS);
    expect(lines.filter((l) => l.event === 'SY_RCPT').every((l) => l.level === 20 && l.action === 'route')).toBe(true);
    expect(count(lines, 'SY_MESSAGE_QUEUED')).toBe(MESSAGES);
    expect(count(lines, 'SY_RELAY_STOPPING')).toBe(1);
  });

  it.each([
    ['uncaughtException', 'exception'],
    ['unhandledRejection', 'rejection'],
  ])('a fatal error (%s) logs SY_FATAL after every earlier line and exits 1', async (origin, kind) => {
    const { port, proc } = await debugRelay({ NODE_OPTIONS: `--import ${PRELOAD}`, SY_TEST_FATAL: kind });
    const out = capture(proc);
    await sendMessages(port);
    proc.kill('SIGUSR2');
    expect(await out.exited).toBe(1);
    const lines = parse(out.text());
    expect(count(lines, 'SY_RCPT')).toBe(MESSAGES * RCPTS);
    expect(count(lines, 'SY_MESSAGE_QUEUED')).toBe(MESSAGES);
    expect(lines.at(-1)).toMatchObject({ event: 'SY_FATAL', level: 60, origin, err: { message: `test: fatal ${kind}` } });
  });
});

/**
 * `switchyard ARGS` as a long-running process of this test, logging at info to a captured
 * stderr; killed in the cleanup if it still runs (before the test's environment goes).
 */
function spawnService(args: string[], env: NodeJS.ProcessEnv = {}): { proc: ChildProcess; out: ReturnType<typeof capture> } {
  const proc = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, REDIS_URL: '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  cleanups.push(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    return Promise.resolve();
  });
  return { proc, out: capture(proc) };
}

/** Waits up to `ms` for `text` in the output (fails the test if it never comes). */
const logged = (out: { text: () => string }, text: string, ms = 10_000): Promise<void> => until(() => out.text().includes(text), ms, text);

/** A test environment removed after the processes the test started are stopped. */
async function environment(adjust: (raw: Record<string, unknown>) => void): Promise<TestEnv> {
  const env = await testEnv(adjust);
  cleanups.push(() => env.cleanup());
  return env;
}

describe('worker log', () => {
  it('a quiet worker’s lines arrive by themselves; an import’s line logged just before SIGTERM is not lost', async () => {
    const env = await environment(onlySources('corp'));
    const { proc: worker, out } = spawnService(['worker', '--config', env.configFile]);
    // nothing else is logged after it: it arrives through the periodic flush
    await logged(out, 'SY_WORKER_READY');

    const imported = await runCli(['import', csvFixture('contoso.csv'), '--source', 'corp', '--json'], env.configFile);
    expect(imported.code).toBe(0);
    worker.kill('SIGTERM');
    expect(await out.exited).toBe(0);
    const lines = parse(out.text());
    expect(count(lines, 'SY_IMPORT_DONE')).toBe(1); // ran in the worker, not inline
    expect(lines.at(-1)?.event).toBe('SY_WORKER_STOPPING');
  });
});

describe('`up` whose job thread dies', () => {
  it('the thread’s last line is written, then SY_FATAL with the thread’s error, and the process exits 1', async () => {
    const env = await environment((raw) => {
      onlySources('corp')(raw);
      raw.relay = { ...(raw.relay as Record<string, unknown>), listen: ['127.0.0.1:0'] };
    });
    const { proc: up, out } = spawnService(['up', '--admin-listen', '127.0.0.1:0', '--config', env.configFile], {
      NODE_OPTIONS: `--import ${THREAD_PRELOAD}`,
    });
    await logged(out, 'SY_JOB_THREAD_READY', 15_000);
    // a job on the thread first: the thread works and its lines reach the process's log
    const imported = await runCli(['import', csvFixture('contoso.csv'), '--source', 'corp', '--json'], env.configFile);
    expect(imported.code).toBe(0);
    await logged(out, 'SY_IMPORT_DONE');

    up.kill('SIGUSR2');
    const stillRunning = new Promise<string>((resolve) => setTimeout(() => resolve('still running 20 s later'), 20_000).unref());
    expect(await Promise.race([out.exited, stillRunning])).toBe(1);
    const lines = parse(out.text());
    expect(count(lines, 'SY_IMPORT_DONE')).toBe(1);
    const last = lines.findIndex((l) => l.event === 'SY_TEST_THREAD_LAST');
    const fatal = lines.findIndex((l) => l.event === 'SY_FATAL');
    expect(last).toBeGreaterThan(-1);
    expect(fatal).toBe(lines.length - 1);
    expect(last).toBeLessThan(fatal);
    expect(lines[fatal]).toMatchObject({
      level: 60,
      origin: 'uncaughtException',
      err: { message: 'the job thread failed: test: job thread fatal' },
    });
  });
});
