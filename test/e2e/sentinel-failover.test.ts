/**
 * Sentinel failover during a run of messages (SPEC §9): the master is killed; while there is
 * no master the relay answers 4xx (never 5xx); it resumes after the failover, and every
 * message that got 250 is delivered. Accepted messages wait for one replica (redis.waitReplicas).
 * Judged by what was acknowledged (fault-audit.ts); the duplicates the failover's instant
 * allows (SPEC §5) are counted and printed.
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
import { startSink, type Sink } from '../helpers/smtp.js';
import { sendRun, until } from '../helpers/mail-run.js';
import { pendingMessages, queueDrained, report, settle } from '../helpers/fault-audit.js';

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
    const keys = createKeys('failover');
    await importCsvde({ redis: admin, keys, versionsKept: 5 }, source, csvFixture('contoso.csv'));
    let relay: RunningRelay | undefined;
    try {
      relay = await startRelay({ config, log: createLogger('failover', 'silent'), pollMs: 100 });
      const port = relay.addresses[0]?.port ?? 0;
      const run = sendRun(() => port, 300, RCPTS, { clients: 8 });
      await until(() => run.accepted.size >= 100);
      const oldMaster = await sentinel.currentMaster();
      await sentinel.master.stop('SIGKILL');
      const atKill = run.attempts.length;
      // no master: the senders are deferred, never refused
      await until(() => run.attempts.slice(atKill).some((a) => /^4\d\d 4\.3\.0/.test(a.reply ?? '')), 30_000, 'a 4xx without a master');
      const a = await settle([run], sinks, { drained: queueDrained(admin, keys) });
      const newMaster = await sentinel.currentMaster();
      const pending = await pendingMessages([run], admin, keys);
      report(`sentinel failover ${oldMaster} → ${newMaster}`, a, {
        pendingLeft: pending.length,
        pendingAnswers: pending.map((p) => `seq ${p.seq}: ${p.reply}`).join(' | '),
      });
      expect(newMaster).not.toBe(oldMaster);
      expect(a.attempts.refused).toBe(0);
      expect(run.attempts.filter((x) => x.reply !== undefined && !/^[24]/.test(x.reply))).toEqual([]);
      expect(a.accepted).toBe(300);
      expect(a.lost).toEqual([]);
      expect(a.unexpected).toEqual([]);
      // the failover's instant between a write and its reply may duplicate (SPEC §5), never
      // twice: a 4xx'd or unanswered message arrives at most once, a 250 at most twice
      expect([...a.notQueuedArrived, ...a.noAnswerArrived].filter((l) => l.copies > 1)).toEqual([]);
      expect(a.duplicates.filter((d) => d.helos.length > 2)).toEqual([]);
      // one left pending (the reaper delivers it later) was answered 4xx in that instant, never 250
      expect(pending.filter((p) => p.outcome !== 'not-queued')).toEqual([]);
    } finally {
      await relay?.close(2000);
      admin.disconnect();
      await Promise.all(sinks.map((s) => s.close()));
    }
  });
});
