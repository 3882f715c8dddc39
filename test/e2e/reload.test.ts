/**
 * Reload without a restart (SPEC §5), on real processes: SIGHUP re-reads the file and applies
 * it to new sessions while a transaction in progress completes; a bad file or a `listen`
 * change is refused and changes nothing; `switchyard reload` asks every registered relay and
 * worker and prints one line each.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readAudit } from '../../src/audit/log.js';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../../src/main/embedded-redis.js';
import { projectRoot } from '../../src/main/paths.js';
import { registeredProcesses } from '../../src/store/control.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { spawnRelay, type RelayProcess } from '../helpers/relay-process.js';
import { message } from '../helpers/smtp.js';
import { openSession } from '../helpers/smtp-session.js';

const BIN = join(projectRoot(), 'bin', 'switchyard.js');
const ENV = { LOG_LEVEL: 'info' };
const OUTSIDE = 'someone@example.org'; // relayed for a trusted client only
const ADDED = 'anyone@fabrikam.example'; // a domain the reload adds (internalRelay → legacy)

let t: RelayEnv | undefined;
let procs: { kill(signal?: NodeJS.Signals): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(procs.map((p) => p.kill('SIGKILL')));
  procs = [];
  await t?.cleanup();
  t = undefined;
});

/** The process's log lines (pino JSON on stderr) from now on. */
function logOf(proc: ChildProcess): { lines: () => Record<string, unknown>[]; waitFor(event: string): Promise<Record<string, unknown>> } {
  let text = '';
  proc.stderr?.on('data', (d: Buffer) => (text += d.toString()));
  const lines = (): Record<string, unknown>[] =>
    text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    lines,
    async waitFor(event) {
      for (let i = 0; i < 200; i++) {
        const found = lines().find((l) => l.event === event);
        if (found) return found;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no ${event} in the log: ${text.slice(-2000)}`);
    },
  };
}

const readConfig = (file: string): Record<string, unknown> => parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
function editConfig(file: string, edit: (raw: Record<string, unknown> & { relay: Record<string, unknown> }) => void, to = file): void {
  const raw = readConfig(file) as Record<string, unknown> & { relay: Record<string, unknown> };
  edit(raw);
  writeFileSync(to, stringify(raw));
}

async function startRelayProcess(file: string): Promise<RelayProcess & { log: ReturnType<typeof logOf> }> {
  const r = await spawnRelay(file, ENV);
  procs.push(r);
  return { ...r, log: logOf(r.proc) };
}

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  const proc = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => proc.once('exit', r));
  return { code, stdout, stderr, ms: Date.now() - started };
}

describe('SIGHUP', () => {
  it('a domain added and a trusted network removed apply to the next session; a transaction in progress completes', async () => {
    const port = await freePort();
    t = await relayEnv({ start: false, relay: { listen: [`127.0.0.1:${port}`] } });
    const relay = await startRelayProcess(t.env.configFile);

    const before = await openSession(port);
    expect(before.greeting).toMatch(/^220/);
    expect(await before.send('EHLO client.example.org')).toMatch(/^250/);
    expect(await before.send('MAIL FROM:<sender@example.org>')).toMatch(/^250/);
    expect(await before.send(`RCPT TO:<${OUTSIDE}>`)).toMatch(/^250/); // trusted: relayed
    expect(await before.send(`RCPT TO:<${ADDED}>`)).toMatch(/^250/); // not accepted yet, relayed as outbound

    editConfig(t.env.configFile, (raw) => {
      (raw.domains as unknown[]).push({ name: 'fabrikam.example', type: 'internalRelay', nextHop: 'legacy' });
      raw.relay.trustedNetworks = ['192.0.2.0/24'];
    });
    relay.proc.kill('SIGHUP');
    const reloaded = await relay.log.waitFor('SY_RELOADED');
    expect(reloaded.changed).toEqual(['domains', 'relay.trustedNetworks']);

    // a new session: no longer trusted, and the added domain is accepted
    const after = await openSession(port);
    expect(await after.send('EHLO client.example.org')).toMatch(/^250/);
    expect(await after.send('MAIL FROM:<sender@example.org>')).toMatch(/^250/);
    expect(await after.send(`RCPT TO:<${OUTSIDE}>`)).toMatch(/^5\d\d 5\.7\.1/);
    expect(await after.send(`RCPT TO:<${ADDED}>`)).toMatch(/^250/);
    expect(await after.send('DATA')).toMatch(/^354/);
    expect(await after.send({ raw: `${message('after reload')}.\r\n` })).toMatch(/^250/);
    after.close();

    // the transaction begun before the reload finishes under its configuration
    expect(await before.send('DATA')).toMatch(/^354/);
    expect(await before.send({ raw: `${message('in progress')}.\r\n` })).toMatch(/^250/);
    before.close();

    const internet = await t.sinks.internet.waitFor(1);
    expect(
      internet
        .map((m) => m.rcpts.map((r) => r.address))
        .flat()
        .sort(),
    ).toEqual([ADDED, OUTSIDE].sort());
    expect(internet[0]?.text).toContain('Subject: in progress');
    const legacy = await t.sinks.legacy.waitFor(1);
    expect(legacy[0]?.rcpts.map((r) => r.address)).toEqual([ADDED]);
    expect(legacy[0]?.text).toContain('Subject: after reload');
  });

  it('a broken file changes nothing and is logged with the key; a listen change is refused as restart required', async () => {
    const port = await freePort();
    t = await relayEnv({ start: false, relay: { listen: [`127.0.0.1:${port}`] } });
    const relay = await startRelayProcess(t.env.configFile);
    const good = readFileSync(t.env.configFile, 'utf8');

    editConfig(t.env.configFile, (raw) => {
      raw.relay.trustedNetworks = [];
      raw.relay.maxRecipients = 'lots';
    });
    relay.proc.kill('SIGHUP');
    const refused = await relay.log.waitFor('SY_RELOAD_REFUSED');
    expect(refused.err).toContain('relay.maxRecipients');

    // a schedule node-cron would refuse (the loader checks it too)
    writeFileSync(t.env.configFile, good);
    editConfig(t.env.configFile, (raw) => {
      raw.relay.trustedNetworks = [];
      (raw.sources as Record<string, unknown>[])[0]!.schedule = '99 * * * *';
    });
    const refusedBefore = relay.log.lines().length;
    relay.proc.kill('SIGHUP');
    // the reload's own line (other lines, e.g. a late SY_RCPT of an earlier session, may come first)
    const reloadLine = (from: number) =>
      relay.log
        .lines()
        .slice(from)
        .find((l) => String(l.event).startsWith('SY_RELOAD'));
    for (let i = 0; i < 200 && reloadLine(refusedBefore) === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    expect(reloadLine(refusedBefore)?.err).toContain('sources[0].schedule: "99 * * * *" is not a valid cron expression');
    // still trusted: the running configuration was kept
    const s = await openSession(port);
    await s.send('EHLO client.example.org');
    await s.send('MAIL FROM:<sender@example.org>');
    expect(await s.send(`RCPT TO:<${OUTSIDE}>`)).toMatch(/^250/);
    s.close();

    writeFileSync(t.env.configFile, good);
    editConfig(t.env.configFile, (raw) => {
      raw.relay.listen = [`127.0.0.1:${port + 1}`];
      raw.relay.maxRecipients = 2;
    });
    const before = relay.log.lines().length;
    relay.proc.kill('SIGHUP');
    for (let i = 0; i < 200 && reloadLine(before) === undefined; i++) await new Promise((r) => setTimeout(r, 50));
    const line = reloadLine(before);
    expect(line?.event).toBe('SY_RELOAD_REFUSED');
    expect(line?.err).toBe('restart required: relay.listen changed');
    expect(relay.log.lines().some((l) => l.event === 'SY_RELOADED')).toBe(false);
    // maxRecipients (changed in the same file) was not applied either
    const again = await openSession(port);
    await again.send('EHLO client.example.org');
    await again.send('MAIL FROM:<sender@example.org>');
    for (const n of [1, 2, 3]) expect(await again.send(`RCPT TO:<r${n}@example.org>`)).toMatch(/^250/);
    again.close();
  });
});

describe('switchyard reload', () => {
  it('with no relay or worker registered: exit 1 and says so', async () => {
    t = await relayEnv({ start: false, publish: false });
    const r = await cli(['reload', '--config', t.env.configFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`switchyard: no relay or worker is registered in namespace "${t.env.namespace}"\n`);
  });

  it('two relays and a worker: one line each; a bad file → refused; a dead process → no answer', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    t = await relayEnv({ start: false, relay: { listen: [`127.0.0.1:${p1}`] } });
    const file1 = t.env.configFile;
    const file2 = join(file1, '..', 'relay2.yaml');
    editConfig(file1, (raw) => (raw.relay.listen = [`127.0.0.1:${p2}`]), file2);
    const r1 = await startRelayProcess(file1);
    const r2 = await startRelayProcess(file2);
    const worker = spawn(process.execPath, [BIN, 'worker', '--config', file1], {
      env: { ...process.env, REDIS_URL: '', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'ignore'],
    });
    const workerExited = new Promise((r) => worker.once('exit', r));
    procs.push({
      async kill(signal = 'SIGKILL') {
        if (worker.exitCode === null && worker.signalCode === null) worker.kill(signal);
        await workerExited;
      },
    });
    const host = hostname();
    const names = [`relay ${host}:${r1.proc.pid}`, `relay ${host}:${r2.proc.pid}`, `worker ${host}:${worker.pid}`].sort();
    for (let i = 0; i < 300 && (await registeredProcesses(t.env.redis, t.env.keys)).length < 3; i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await registeredProcesses(t.env.redis, t.env.keys)).sort()).toEqual(names);

    const ok = await cli(['reload', '--config', file1]);
    expect(ok.stdout.trim().split('\n').sort()).toEqual(names.map((n) => `${n} reloaded`));
    expect(ok.code).toBe(0);

    editConfig(file2, (raw) => (raw.relay.maxConnections = 0));
    const bad = await cli(['reload', '--config', file1]);
    expect(bad.code).toBe(1);
    const lines = bad.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.startsWith(`relay ${host}:${r2.proc.pid} `))).toMatch(/ refused: .*relay\.maxConnections/);
    expect(lines.filter((l) => l.endsWith(' reloaded'))).toHaveLength(2);

    editConfig(file2, (raw) => (raw.relay.maxConnections = 100));
    await r1.kill('SIGKILL'); // registered until its heartbeat expires
    const dead = await cli(['reload', '--config', file2]);
    expect(dead.code).toBe(1);
    expect(dead.stdout.trim().split('\n').sort()).toEqual(
      [`relay ${host}:${r1.proc.pid} no answer`, `relay ${host}:${r2.proc.pid} reloaded`, `worker ${host}:${worker.pid} reloaded`].sort(),
    );
    expect(dead.ms).toBeLessThan(15_000);
    // each `switchyard reload` is in the audit log with its outcome per process (SPEC §11)
    const audit = (await readAudit(t.env.redis, t.env.keys)).filter((e) => e.action === 'reload');
    expect(audit).toHaveLength(3);
    expect(audit[0]?.who).toMatch(/^os:/);
    expect(audit[1]?.result).toMatch(/refused: .*relay\.maxConnections/);
    expect(audit[2]?.result).toContain(`relay ${host}:${r1.proc.pid} no answer`);
  });
});
