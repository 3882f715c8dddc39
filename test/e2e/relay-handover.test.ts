/**
 * Several relays on one Redis (SPEC §9): relays are stateless, the queue is shared. A
 * message accepted by one relay whose process is then killed is delivered by the other.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort } from '../../src/main/embedded-redis.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { spawnRelay, type RelayProcess } from '../helpers/relay-process.js';
import { sendMail } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
const relays: RelayProcess[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.kill('SIGKILL')));
  await t?.cleanup();
  t = undefined;
});

/** The test's config file with another listener and hostname, for a second relay. */
function variant(configFile: string, name: string, port: number): string {
  const raw = parse(readFileSync(configFile, 'utf8')) as { relay: Record<string, unknown> };
  raw.relay = { ...raw.relay, listen: [`127.0.0.1:${port}`], hostname: name };
  const file = join(dirname(configFile), `${name}.yaml`);
  writeFileSync(file, stringify(raw));
  return file;
}

describe('two relays on one Redis', () => {
  it('a message accepted by a relay that is then killed is delivered by the other one', async () => {
    let killed = false;
    t = await relayEnv({
      start: false,
      relay: { retryFirst: '300ms', retryMax: '500ms', deliveryLease: '2s' },
      // the next hop defers everything until relay A is gone
      sinks: { onprem: { rcptReply: () => (killed ? undefined : { code: 451, message: '4.3.2 not yet' }) } },
    });
    const [portA, portB] = [await freePort(), await freePort()];
    const a = await spawnRelay(variant(t.env.configFile, 'mx-a.test', portA));
    const b = await spawnRelay(variant(t.env.configFile, 'mx-b.test', portB));
    relays.push(a, b);
    const r = await sendMail({ port: portA, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'] });
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as/);
    await new Promise((res) => setTimeout(res, 700)); // A has tried (and been deferred) at least once
    await a.kill('SIGKILL');
    killed = true;
    const [m] = await t.sinks.onprem.waitFor(1, 20_000);
    expect(m?.helo).toBe('mx-b.test');
    expect(m?.text).toMatch(/by mx-a\.test \(Switchyard\)/); // accepted by A
    await new Promise((res) => setTimeout(res, 500));
    expect(t.sinks.onprem.messages).toHaveLength(1);
  });
});
