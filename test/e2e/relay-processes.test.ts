/**
 * `relay.processes` > 1 on real processes: a primary and its relay processes (node:cluster)
 * share one listener; every process serves sessions; the primary's /metrics sums their
 * counters; SIGHUP reaches each; SIGTERM stops them all; a relay process killed with
 * SIGKILL is replaced and no acknowledged message is lost; a killed primary takes its relay
 * processes with it; a relay process that cannot start fails the start.
 */
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/main/paths.js';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/main/embedded-redis.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { spawnRelay, type RelayProcess } from '../helpers/relay-process.js';
import { sendRun, until } from '../helpers/mail-run.js';
import { queueDrained, settle } from '../helpers/fault-audit.js';
import type { Sink } from '../helpers/smtp.js';

const RCPTS = ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu', 'nobody@contoso.edu'];
const ENV = { LOG_LEVEL: 'info' };
let t: RelayEnv | undefined;
let relays: RelayProcess[] = [];
afterEach(async () => {
  const orphans = relays.flatMap((r) => (r.proc.pid === undefined ? [] : childPids(r.proc.pid)));
  await Promise.all(relays.map((r) => r.kill('SIGKILL')));
  for (const pid of orphans) killQuietly(pid);
  relays = [];
  await t?.cleanup();
  t = undefined;
});

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** The live children of a process (Linux /proc). */
function childPids(parent: number): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // "pid (comm) state ppid …": comm may hold spaces, so split after its ")"
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === parent && state !== 'Z') pids.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** The JSON log lines a process (and its relay processes, which share its stderr) wrote. */
function logOf(r: RelayProcess): () => Record<string, unknown>[] {
  let text = '';
  r.proc.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  return () =>
    text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const sinksOf = (env: RelayEnv): Sink[] => [env.sinks.onprem, env.sinks.cloud, env.sinks.legacy, env.sinks.internet];

async function twoProcessRelay(args: string[] = []): Promise<{ port: number; relay: RelayProcess; log: () => Record<string, unknown>[] }> {
  const port = await freePort();
  t = await relayEnv({ start: false, relay: { listen: [`127.0.0.1:${port}`], processes: 2 } });
  const relay = await spawnRelay(t.env.configFile, ENV, undefined, args);
  relays.push(relay);
  return { port, relay, log: logOf(relay) };
}

describe('relay.processes: 2', () => {
  it('both processes serve one listener; /metrics sums them; SIGHUP reaches each; SIGTERM stops all', async () => {
    const adminPort = await freePort();
    const { port, relay, log } = await twoProcessRelay(['--admin-listen', `127.0.0.1:${adminPort}`]);
    expect(relay.banner).toMatch(
      new RegExp(`relay listening on 127\\.0\\.0\\.1:${port}; admin http://127\\.0\\.0\\.1:${adminPort}.* \\(2 processes\\)`),
    );
    const children = childPids(relay.proc.pid ?? 0);
    expect(children).toHaveLength(2);

    const run = sendRun(() => port, 60, RCPTS);
    const a = await settle([run], sinksOf(t!), { drained: queueDrained(t!.env.redis, t!.env.keys) });
    expect(a.accepted).toBe(60);
    expect(a.lost).toEqual([]);
    expect(a.attempts.refused).toBe(0);
    // round robin over the two: each accepted some of the 60 (each logs SY_MESSAGE_QUEUED)
    const served = new Set(
      log()
        .filter((l) => l.event === 'SY_MESSAGE_QUEUED')
        .map((l) => l.process),
    );
    expect([...served].sort()).toEqual([1, 2]);

    const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    expect(text).toMatch(/^switchyard_messages_accepted_total 60$/m);
    // the primary's Redis-read gauges once, not once per process
    expect(text.match(/^# TYPE switchyard_table_version gauge$/gm)).toHaveLength(1);

    relay.proc.kill('SIGHUP');
    await until(() => log().filter((l) => l.event === 'SY_RELOADED').length >= 3, 10_000, 'three SY_RELOADED');
    expect(
      log()
        .filter((l) => l.event === 'SY_RELOADED')
        .map((l) => l.process)
        .sort(),
    ).toEqual([1, 2, 'primary']);

    // `switchyard reload`: one line per process, the two relay processes and the primary (its admin)
    const reload = spawnSync(process.execPath, [join(projectRoot(), 'bin', 'switchyard.js'), 'reload', '--config', t!.env.configFile], {
      env: { ...process.env, REDIS_URL: '' },
      encoding: 'utf8',
    });
    expect(reload.status).toBe(0);
    expect(reload.stdout.trim().split('\n').sort()).toEqual(
      [...children.map((pid) => `relay ${hostname()}:${pid}`), `relay primary ${hostname()}:${relay.proc.pid}`]
        .map((n) => `${n} reloaded`)
        .sort(),
    );

    const exited = new Promise<number | null>((res) => relay.proc.once('exit', (code) => res(code)));
    relay.proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of children) expect(alive(pid), `relay process ${pid}`).toBe(false);
  });

  it('kill -9 of one relay process while accepting: another is started and every 250 arrives', async () => {
    const { port, relay, log } = await twoProcessRelay();
    const [victim] = childPids(relay.proc.pid ?? 0);
    const run = sendRun(() => port, 300, RCPTS);
    await until(() => run.accepted.size >= 100);
    process.kill(victim ?? 0, 'SIGKILL');
    await until(() => log().some((l) => l.event === 'SY_RELAY_PROCESS_EXITED'), 10_000, 'SY_RELAY_PROCESS_EXITED');
    const a = await settle([run], sinksOf(t!), { drained: queueDrained(t!.env.redis, t!.env.keys) });
    expect(a.accepted).toBe(300);
    expect(a.lost).toEqual([]);
    expect(a.attempts.refused).toBe(0);
    expect(a.unexpected).toEqual([]);
    expect(a.notQueuedArrived).toEqual([]);
    const exitedLine = log().find((l) => l.event === 'SY_RELAY_PROCESS_EXITED');
    expect(exitedLine).toMatchObject({ pid: victim, signal: 'SIGKILL' });
    await until(() => childPids(relay.proc.pid ?? 0).length === 2, 10_000, 'a second relay process again');
    expect(childPids(relay.proc.pid ?? 0)).not.toContain(victim);
  });

  it('kill -9 of the primary: its relay processes exit too', async () => {
    const { relay } = await twoProcessRelay();
    const children = childPids(relay.proc.pid ?? 0);
    expect(children).toHaveLength(2);
    await relay.kill('SIGKILL');
    await until(() => children.every((pid) => !alive(pid)), 10_000, 'the relay processes gone');
  });

  it('a relay process that cannot start fails the whole start, with its reason', async () => {
    const port = await freePort();
    t = await relayEnv({ start: false, relay: { listen: [`127.0.0.1:${port}`], processes: 2 } });
    // the port taken by someone else: each relay process's listen fails (EADDRINUSE)
    const squatter = createServer().listen(port, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      await expect(spawnRelay(t.env.configFile, ENV)).rejects.toThrow(
        /relay exited \(1\) before listening[\s\S]*EADDRINUSE[\s\S]*relay process \d exited \(code 1\) before listening/,
      );
    } finally {
      squatter.close();
    }
  });
});
