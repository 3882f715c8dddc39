/**
 * "Once 250 is given for DATA, the message is never lost" (SPEC §5), tested for real:
 * the relay process is killed with SIGKILL while accepting and while delivering, and
 * Redis (AOF as shipped) is killed and restarted during a run. Every message that got
 * 250 must arrive at its sink; duplicates (allowed only after a crash) are reported.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { spawnRelay, type RelayProcess } from '../helpers/relay-process.js';
import { dialogue } from '../helpers/smtp.js';
import { allArrive, arrived, sendRun as sendMailRun, until, type Run } from '../helpers/mail-run.js';

const RCPTS = ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu', 'nobody@contoso.edu'];
let t: RelayEnv | undefined;
let relays: RelayProcess[] = [];
let redis: EmbeddedRedis | undefined;
afterEach(async () => {
  await Promise.all(relays.map((r) => r.kill('SIGKILL')));
  relays = [];
  await t?.cleanup();
  t = undefined;
  await redis?.stop('SIGKILL');
  redis = undefined;
});

const sendRun = (port: () => number, count: number): Run => sendMailRun(port, count, RCPTS);

describe('durable acceptance', () => {
  it('kill -9 of the relay while accepting 500 messages: every 250 arrives after a restart', async () => {
    const port = await freePort();
    t = await relayEnv({ start: false, relay: { listen: [`127.0.0.1:${port}`] } });
    relays.push(await spawnRelay(t.env.configFile));
    const run = sendRun(() => port, 500);
    await until(() => run.accepted.size >= 150);
    await relays[0]?.kill('SIGKILL');
    const acceptedBeforeKill = run.accepted.size;
    await new Promise((r) => setTimeout(r, 300));
    relays.push(await spawnRelay(t.env.configFile));
    await run.done;
    const sinks = [t.sinks.onprem, t.sinks.cloud, t.sinks.legacy];
    const { missing, duplicates } = await allArrive(sinks, run.accepted);
    console.log(
      `relay SIGKILL while accepting: ${acceptedBeforeKill} accepted before the kill, 500 in all; missing ${missing.length}, duplicates ${duplicates}`,
    );
    expect(missing).toEqual([]);
    expect(run.accepted.size).toBe(500);
  });

  it('kill -9 of the relay while delivering to slow next hops: every 250 arrives after a restart', async () => {
    const port = await freePort();
    const slow = { delayMs: 150 };
    t = await relayEnv({
      start: false,
      relay: { listen: [`127.0.0.1:${port}`], connectionsPerHost: 2 },
      sinks: { onprem: slow, cloud: slow, legacy: slow },
    });
    relays.push(await spawnRelay(t.env.configFile));
    const sinks = [t.sinks.onprem, t.sinks.cloud, t.sinks.legacy];
    const run = sendRun(() => port, 200);
    await until(() => arrived(sinks).total >= 20);
    await relays[0]?.kill('SIGKILL');
    const before = arrived(sinks).total;
    expect(before).toBeLessThan(100);
    relays.push(await spawnRelay(t.env.configFile));
    await run.done;
    const { missing, duplicates } = await allArrive(sinks, run.accepted);
    console.log(
      `relay SIGKILL while delivering: ${before} of 200 delivered before the kill; missing ${missing.length}, duplicates ${duplicates}`,
    );
    expect(missing).toEqual([]);
  });

  it('Redis killed and restarted (AOF, as shipped) during a run: 451 meanwhile, every 250 arrives', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-redis-'));
    redis = await startRedis({ dir, persistence: true });
    const redisPort = redis.port;
    const port = await freePort();
    t = await relayEnv({ start: false, redisUrl: redis.url, relay: { listen: [`127.0.0.1:${port}`] } });
    relays.push(await spawnRelay(t.env.configFile));
    const run = sendRun(() => port, 500);
    await until(() => run.accepted.size >= 150);
    await redis.stop('SIGKILL');
    const acceptedAtKill = run.accepted.size;
    // while Redis is down every RCPT is deferred, never refused, authoritative domain included
    const down = await dialogue(port, [
      'EHLO c',
      'MAIL FROM:<s@example.org>',
      'RCPT TO:<nobody@chem.lab.contoso.edu>',
      'RCPT TO:<ada.lovelace@contoso.edu>',
      'QUIT',
    ]);
    expect(down.slice(3, 5)).toEqual([
      '451 4.3.0 Directory temporarily unavailable, try again later',
      '451 4.3.0 Directory temporarily unavailable, try again later',
    ]);
    await new Promise((r) => setTimeout(r, 1000));
    // a 250 counted here may belong to a write Redis acknowledged just before the kill, whose
    // reply reached the client after `acceptedAtKill` was read: counting by time proves
    // nothing (it failed that way once in five runs). What proves "no 250 without Redis" is
    // below: every message that got a 250 is delivered from what Redis acknowledged.
    const acceptedWhileDown = run.accepted.size - acceptedAtKill;
    redis = await startRedis({ dir, persistence: true, port: redisPort });
    await run.done;
    const sinks = [t.sinks.onprem, t.sinks.cloud, t.sinks.legacy];
    const { missing, duplicates } = await allArrive(sinks, run.accepted);
    console.log(
      `Redis SIGKILL + restart: ${acceptedAtKill} accepted before, ${acceptedWhileDown} during the outage; missing ${missing.length}, duplicates ${duplicates}`,
    );
    expect(missing).toEqual([]);
  });
});
