/**
 * Sentinel failover during a run of messages (SPEC §9): the master is killed; while there is
 * no master the relay answers 4xx (never 5xx); it resumes after the failover, and every
 * message that got 250 is delivered. Accepted messages wait for one replica (redis.waitReplicas).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { startRelay, type RunningRelay } from '../../src/main/relay.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { createKeys } from '../../src/store/keys.js';
import { createRedis } from '../../src/store/redis.js';
import { parseConfig } from '../../src/config/load.js';
import { csvFixture, demoConfigObject } from '../helpers/env.js';
import { FAST_RELAY } from '../helpers/relay.js';
import { MASTER_NAME, startSentinel, type LocalSentinel } from '../helpers/redis-sentinel.js';
import { message, sendMail, startSink, type Sink } from '../helpers/smtp.js';

let sentinel: LocalSentinel;
beforeAll(async () => {
  sentinel = await startSentinel();
});
afterAll(async () => sentinel?.stop());

const RCPTS = ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu', 'nobody@contoso.edu'];

describe('Sentinel failover', () => {
  it('451 while there is no master, never 5xx; every 250 delivered after the failover', async () => {
    const sinks: Sink[] = await Promise.all([startSink(), startSink(), startSink(), startSink()]);
    const names = ['onprem', 'cloud', 'legacy', 'internet'];
    const raw = demoConfigObject('failover', 'redis://unused');
    raw.redis = {
      namespace: 'failover',
      sentinel: { name: MASTER_NAME, sentinels: sentinel.sentinels },
      waitReplicas: 1,
      waitTimeout: '500ms',
    };
    for (const c of raw.connectors as { name: string; smartHosts: string[] }[])
      c.smartHosts = [`127.0.0.1:${sinks[names.indexOf(c.name)]?.port}`];
    raw.relay = { listen: ['127.0.0.1:0'], hostname: 'mx.failover.test', ...FAST_RELAY };
    const config = parseConfig(raw, 'failover.yaml', {});
    const admin = createRedis(config.redis, 'worker');
    admin.on('error', () => undefined); // the master is killed on purpose
    const source = config.sources.find((s) => s.name === 'corp');
    if (!source) throw new Error('no corp');
    await importCsvde({ redis: admin, keys: createKeys('failover'), versionsKept: 5 }, source, csvFixture('contoso.csv'));
    let relay: RunningRelay | undefined;
    try {
      relay = await startRelay({ config, log: createLogger('failover', 'silent'), pollMs: 100 });
      const port = relay.addresses[0]?.port ?? 0;
      const accepted = new Set<number>();
      const refusals: string[] = [];
      let next = 1;
      const TOTAL = 300;
      const client = async (): Promise<void> => {
        for (let n = next++; n <= TOTAL; n = next++) {
          for (;;) {
            try {
              const r = await sendMail({
                port,
                from: 'sender@example.org',
                to: [RCPTS[n % 3] ?? ''],
                body: message(`seq ${n}`, `X-Seq: ${n}\r\n`),
              });
              if (r.rejected.length > 0) refusals.push(...r.rejected.map((x) => x.reply));
              if (/^250/.test(r.response) && r.rejected.length === 0) {
                accepted.add(n);
                break;
              }
            } catch (err) {
              const reply = (err as { response?: string }).response;
              if (reply) refusals.push(reply);
            }
            await new Promise((res) => setTimeout(res, 50));
          }
        }
      };
      const run = Promise.all(Array.from({ length: 8 }, client));
      while (accepted.size < 100) await new Promise((res) => setTimeout(res, 20));
      const oldMaster = await sentinel.currentMaster();
      await sentinel.master.stop('SIGKILL');
      await run;
      const newMaster = await sentinel.currentMaster();
      expect(newMaster).not.toBe(oldMaster);
      expect(refusals.filter((r) => /^5/.test(r))).toEqual([]);
      expect(refusals.some((r) => /^4\d\d 4\.3\.0/.test(r))).toBe(true);
      // every accepted message arrives
      const deadline = Date.now() + 30_000;
      const seen = new Set<number>();
      while (Date.now() < deadline) {
        seen.clear();
        for (const s of sinks) for (const m of s.messages) seen.add(Number(/^X-Seq: (\d+)\r$/m.exec(m.text)?.[1]));
        if ([...accepted].every((n) => seen.has(n))) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      const missing = [...accepted].filter((n) => !seen.has(n));
      console.log(
        `sentinel failover ${oldMaster} → ${newMaster}: ${accepted.size} accepted, ${refusals.length} temporary refusals, missing ${missing.length}`,
      );
      expect(missing).toEqual([]);
    } finally {
      await relay?.close(2000);
      admin.disconnect();
      await Promise.all(sinks.map((s) => s.close()));
    }
  });
});
