/**
 * Several relays on one Redis (SPEC §9): relays are stateless, the queue is shared. A
 * message accepted by one relay whose process is then killed is delivered by the other,
 * once: judged when the queue is empty, so no later copy can come.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/main/embedded-redis.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { relayVariant, spawnRelay, type RelayProcess } from '../helpers/relay-process.js';
import { queueDrained } from '../helpers/fault-audit.js';
import { until } from '../helpers/mail-run.js';
import { sendMail } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
const relays: RelayProcess[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.kill('SIGKILL')));
  await t?.cleanup();
  t = undefined;
});

describe('two relays on one Redis', () => {
  it('a message accepted by a relay that is then killed is delivered by the other one, once', async () => {
    let killed = false;
    let deferrals = 0;
    t = await relayEnv({
      start: false,
      relay: { retryFirst: '300ms', retryMax: '500ms', deliveryLease: '2s' },
      // the next hop defers everything until relay A is gone
      sinks: {
        onprem: {
          rcptReply: () => {
            if (killed) return undefined;
            deferrals++;
            return { code: 451, message: '4.3.2 not yet' };
          },
        },
      },
    });
    const [portA, portB] = [await freePort(), await freePort()];
    const a = await spawnRelay(relayVariant(t.env.configFile, 'mx-a.test', portA));
    const b = await spawnRelay(relayVariant(t.env.configFile, 'mx-b.test', portB));
    relays.push(a, b);
    const r = await sendMail({ port: portA, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'] });
    const queueId = /queued as (\S+)/.exec(r.response)?.[1];
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as/);
    await until(() => deferrals > 0); // delivery has been tried (and deferred) at least once
    await a.kill('SIGKILL');
    killed = true;
    const [m] = await t.sinks.onprem.waitFor(1, 20_000);
    expect(m?.helo).toBe('mx-b.test');
    expect(m?.text).toMatch(new RegExp(`by mx-a\\.test \\(Switchyard\\) with ESMTP id ${queueId}\\b`)); // accepted by A
    // the unit is finished: nothing is left that could be delivered again
    await until(queueDrained(t.env.redis, t.env.keys), 20_000, 'an empty queue');
    expect(t.sinks.onprem.messages).toHaveLength(1);
  });
});
