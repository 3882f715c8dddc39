/**
 * `switchyard queue list|hold|release|retry|delete` on a queue that a next-hop outage
 * filled (SPEC §5 queue operations), through the built CLI.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { shardOf } from '../../src/mailqueue/ids.js';
import { runCli } from '../helpers/cli.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { sendMail } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

const cli = (args: string[]) => runCli(args, t?.env.configFile ?? '');

describe('queue operations', () => {
  it('lists, holds, releases, retries and deletes by id, recipient and next hop', async () => {
    let legacyUp = false;
    t = await relayEnv({
      relay: { retryFirst: '1h', retryMax: '1h' },
      sinks: { legacy: { rcptReply: () => (legacyUp ? undefined : { code: 421, message: '4.3.2 down for maintenance' }) } },
    });
    for (const to of ['nobody@contoso.edu', 'someone.else@contoso.edu', 'third@contoso.edu']) {
      await sendMail({ port: t.port, from: 'sender@example.org', to: [to] });
    }
    const waitListed = async (re: RegExp) => {
      for (let i = 0; i < 100; i++) {
        const r = await cli(['queue', 'list']);
        if (re.test(r.stdout)) return r.stdout;
        await new Promise((res) => setTimeout(res, 100));
      }
      throw new Error('queue never reached the expected state');
    };
    const listed = await waitListed(/3 unit\(s\) shown; queue: 3 ready, 0 in delivery, 0 held/);
    expect(listed).toMatch(/hop legacy {2}from <sender@example\.org>/);
    expect(listed).toContain('last: 421 4.3.2 down for maintenance');

    const json = (await cli(['queue', 'list', '--json', '--recipient', 'NOBODY@contoso.edu'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { uid: string; msg: string });
    expect(json).toHaveLength(1);
    const uid = json[0]?.uid ?? '';
    // the three messages went to three shards: the commands below span shards
    const all = (await cli(['queue', 'list', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { uid: string }).uid);
    expect(new Set(all.map((u) => shardOf(u))).size).toBe(3);

    expect((await cli(['queue', 'hold', '--hop', 'legacy'])).stdout).toBe('3 of 3 matching unit(s) held\n');
    expect((await cli(['queue', 'list'])).stdout).toMatch(/queue: 0 ready, 0 in delivery, 3 held/);
    expect((await cli(['queue', 'delete', '--recipient', 'third@contoso.edu'])).stdout).toBe('1 of 1 matching unit(s) deleted\n');

    legacyUp = true;
    expect((await cli(['queue', 'release', uid])).stdout).toBe('1 of 1 matching unit(s) released\n');
    await t.sinks.legacy.waitFor(1);
    expect(t.sinks.legacy.messages[0]?.rcpts.map((r) => r.address)).toEqual(['nobody@contoso.edu']);

    expect((await cli(['queue', 'release', '--all'])).stdout).toBe('1 of 1 matching unit(s) released\n');
    await t.sinks.legacy.waitFor(2);
    expect((await cli(['queue', 'list'])).stdout).toMatch(/0 unit\(s\) shown; queue: 0 ready, 0 in delivery, 0 held/);
    expect(t.sinks.legacy.messages.map((m) => m.rcpts[0]?.address).sort()).toEqual(['nobody@contoso.edu', 'someone.else@contoso.edu']);
    expect(t.sinks.internet.messages).toHaveLength(0); // deleted without a DSN
  });

  it('retry makes waiting deliveries due now', async () => {
    let up = false;
    t = await relayEnv({
      relay: { retryFirst: '1h', retryMax: '1h' },
      sinks: { onprem: { rcptReply: () => (up ? undefined : { code: 450, message: '4.2.0 busy' }) } },
    });
    const r = await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'] });
    const id = /queued as (\w+)/.exec(r.response)?.[1] ?? '';
    for (let i = 0; i < 100 && !/1 ready/.test((await cli(['queue', 'list'])).stdout); i++)
      await new Promise((res) => setTimeout(res, 100));
    up = true;
    expect((await cli(['queue', 'retry', id])).stdout).toBe('1 of 1 matching unit(s) due now\n');
    await t.sinks.onprem.waitFor(1);
  });

  it('refuses a mutating command without a selector (exit 2)', async () => {
    t = await relayEnv();
    const r = await cli(['queue', 'delete']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('queue delete: name ids, --recipient or --hop (or --all)');
  });
});
