/**
 * `switchyard test mailflow` against real Postfix next hops (issue 14): the on-premises and
 * cloud systems are private Postfix instances (testkit/embedded-postfix.ts) whose recipient
 * maps hold the demo directory's mailboxes and the cloud targets. All stages pass, probes
 * land at their hop; then the cloud forgets one contact's target and the callout stage fails
 * with Postfix's own 550 5.1.1.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/main/embedded-redis.js';
import { projectRoot } from '../../src/main/paths.js';
import type { Check } from '../../src/mailflow/check.js';
import { startPostfix, type EmbeddedPostfix } from '../../testkit/embedded-postfix.js';
import { csvFixture } from '../helpers/env.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';

const BIN = join(projectRoot(), 'bin', 'switchyard.js');
let t: RelayEnv | undefined;
const postfixes: EmbeddedPostfix[] = [];
afterEach(async () => {
  await Promise.all(postfixes.splice(0).map((p) => p.stop()));
  await t?.cleanup();
  t = undefined;
});

function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args, '--config', t?.env.configFile ?? ''],
      { env: { ...process.env, REDIS_URL: '' } },
      (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
}

/** The demo directory's mailbox addresses (on-premises) and live.contoso.edu targets (cloud). */
function directory(): { mailboxes: string[]; cloud: string[] } {
  const rows: Record<string, string>[] = parse(readFileSync(csvFixture('contoso.csv')), { columns: true, bom: true });
  const mailboxes = rows
    .filter((r) => !r.targetAddress)
    .flatMap((r) =>
      (r.proxyAddresses ?? '')
        .split(';')
        .filter((p) => /^smtp:/i.test(p))
        .map((p) => p.slice(5)),
    );
  const cloud = rows.map((r) => (r.targetAddress ?? '').replace(/^smtp:/i, '')).filter((a) => a.endsWith('@live.contoso.edu'));
  return { mailboxes, cloud };
}

describe('test mailflow against Postfix next hops', () => {
  it('all stages pass against Postfix with recipient maps; a contact the cloud Postfix does not know fails the callout', async () => {
    const dir = directory();
    const [onpremPort, cloudPort, relayPort] = [await freePort(), await freePort(), await freePort()];
    postfixes.push(await startPostfix({ port: onpremPort, hostname: 'onprem.test', domains: ['contoso.edu'], recipients: dir.mailboxes }));
    const cloud = await startPostfix({ port: cloudPort, hostname: 'cloud.test', domains: ['live.contoso.edu'], recipients: dir.cloud });
    t = await relayEnv({
      relay: { listen: [`127.0.0.1:${relayPort}`] }, // through `relay`, so that no sink is given the port
      adjust: (raw) => {
        for (const c of raw.connectors as { name: string; smartHosts: string[] }[]) {
          if (c.name === 'onprem') c.smartHosts = [`127.0.0.1:${onpremPort}`];
          if (c.name === 'cloud') c.smartHosts = [`127.0.0.1:${cloudPort}`];
        }
        raw.mailflow = { probeRecipients: ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu'], calloutRate: 50, timeout: '20s' };
      },
    });
    const healthy = await cli(['test', 'mailflow', '--send', '--json']);
    const report = JSON.parse(healthy.stdout) as { ok: boolean; checks: Check[] };
    expect(report.checks.filter((c) => c.ok === false)).toEqual([]);
    expect(healthy.code).toBe(0);
    expect(report.checks).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          stage: 'nexthop',
          path: `connector cloud 127.0.0.1:${cloudPort}`,
          observed: expect.stringMatching(/^cloud\.test in \d+ ms;/),
        }),
        expect.objectContaining({
          path: 'probe ada.lovelace@contoso.edu',
          observed: expect.stringMatching(/^delivered via onprem: 250 2\.0\.0 Ok: queued as/),
        }),
        expect.objectContaining({
          path: 'probe ada.ivanov@contoso.edu',
          observed: expect.stringMatching(/^delivered via cloud: 250 2\.0\.0 Ok: queued as/),
        }),
      ]),
    );
    const callout = report.checks.find((c) => c.stage === 'callout' && c.path.endsWith('via cloud'));
    expect(callout?.observed).toBe('250 2.1.5 Ok');
    const gone = /→ (\S+) via cloud$/.exec(callout?.path ?? '')?.[1] ?? '';

    // the cloud mailbox of that contact is deleted: the cloud Postfix no longer knows its target
    await cloud.stop();
    postfixes.push(
      await startPostfix({
        port: cloudPort,
        hostname: 'cloud.test',
        domains: ['live.contoso.edu'],
        recipients: dir.cloud.filter((a) => a !== gone),
      }),
    );
    const broken = await cli(['test', 'mailflow', '--json']);
    expect(broken.code).toBe(1);
    const failed = (JSON.parse(broken.stdout) as { checks: Check[] }).checks.filter((c) => c.ok === false);
    expect(failed).toEqual([
      expect.objectContaining({
        stage: 'callout',
        path: expect.stringContaining(`→ ${gone} via cloud`),
        observed: `550 5.1.1 <${gone}>: Recipient address rejected: User unknown in relay recipient table`,
      }),
    ]);
  });
});
