/**
 * `switchyard test mailflow` (SPEC §11, issue 14) through the built CLI against the relay
 * and real SMTP next hops with recipient maps: the project's SMTP sinks (test/helpers/smtp.ts),
 * each answering RCPT from its own map, so that every failure can be staged one at a time.
 * The same stages against private Postfix instances: mailflow-postfix.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/log/logger.js';
import { freePort } from '../../src/main/embedded-redis.js';
import { startRelay, type RunningRelay } from '../../src/main/relay.js';
import { startWorker } from '../../src/main/worker.js';
import { createMetrics } from '../../src/metrics/metrics.js';
import { lastMailflow } from '../../src/mailflow/run.js';
import type { Check } from '../../src/mailflow/check.js';
import { runCli } from '../helpers/cli.js';
import { relayEnv, type RelayEnv, type RelayEnvOptions } from '../helpers/relay.js';

let t: RelayEnv | undefined;
let other: RunningRelay | undefined;
afterEach(async () => {
  await other?.close(1000);
  other = undefined;
  await t?.cleanup();
  t = undefined;
});

interface Report {
  ok: boolean;
  checks: Check[];
}

const cli = (args: string[]) => runCli(args, t?.env.configFile ?? '');

async function mailflow(...args: string[]): Promise<{ code: number; report: Report; text: string }> {
  const json = await cli(['test', 'mailflow', '--json', ...args]);
  const text = await cli(['test', 'mailflow', ...args]);
  return { code: json.code, report: JSON.parse(json.stdout) as Report, text: text.stdout };
}

const failed = (r: Report): string[] => r.checks.filter((c) => c.ok === false).map((c) => `${c.stage} ${c.path}: ${c.observed}`);

/** Cloud mailboxes the cloud system knows; everything else at its RCPT is 550 5.1.1. */
const goneFromCloud = new Set<string>();
const cloudMap = (address: string) =>
  goneFromCloud.has(address.toLowerCase())
    ? { code: 550, message: '5.1.1 <' + address + '>: Recipient address rejected: User unknown in virtual mailbox table' }
    : undefined;

async function setup(o: RelayEnvOptions = {}): Promise<RelayEnv> {
  const port = await freePort();
  return relayEnv({
    ...o,
    sinks: { cloud: { rcptReply: cloudMap }, ...o.sinks },
    // through `relay`, so that no sink is given the port (test/helpers/relay.ts)
    relay: { ...o.relay, listen: [`127.0.0.1:${port}`] },
    adjust: (raw) => {
      raw.mailflow = {
        probeRecipients: ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu', 'someone@partner.example'],
        calloutRate: 50,
        timeout: '10s',
      };
      o.adjust?.(raw);
    },
  });
}

describe('test mailflow', () => {
  it('all four stages hold on a healthy set-up; --send probes land at the hop their decision names, checked through trace', async () => {
    goneFromCloud.clear();
    t = await setup();
    const { code, report, text } = await mailflow('--send');
    expect(failed(report)).toEqual([]);
    expect(code).toBe(0);
    const stages = new Set(report.checks.map((c) => c.stage));
    expect([...stages]).toEqual(['static', 'nexthop', 'callout', 'send']);
    const send = report.checks.filter((c) => c.stage === 'send');
    expect(send).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'probe ada.lovelace@contoso.edu', expected: 'delivered via onprem', ok: true }),
        expect.objectContaining({ path: 'probe ada.ivanov@contoso.edu', expected: 'delivered via cloud', ok: true }),
        expect.objectContaining({ path: 'probe someone@partner.example', expected: 'delivered via internet', ok: true }),
        expect.objectContaining({ path: 'connector legacy', ok: null, observed: 'skipped: no mailflow.probeRecipients routes here' }),
        expect.objectContaining({ path: 'unknown recipient @xo.one', ok: true, observed: expect.stringMatching(/^550 5\.1\.1/) }),
      ]),
    );
    // the probes really arrived, each at its own hop
    expect((await t.sinks.onprem.waitFor(1))[0]?.rcpts.map((r) => r.address)).toEqual(['ada.lovelace@contoso.edu']);
    expect((await t.sinks.cloud.waitFor(1))[0]?.rcpts.map((r) => r.address)).toEqual(['ada.ivanov@live.contoso.edu']);
    expect(report.checks.filter((c) => c.stage === 'callout').length).toBeGreaterThanOrEqual(10);
    expect(text).toMatch(/^stage +path +expected +observed +ok$/m);
    expect(text).toMatch(/checks: 0 failed, 1 skipped — mail flow holds$/m);
  });

  it('a contact whose target the cloud system does not know fails the callout stage with its 550', async () => {
    goneFromCloud.clear();
    t = await setup();
    const first = await mailflow();
    const cloudCallout = first.report.checks.find((c) => c.stage === 'callout' && c.path.endsWith('via cloud'));
    const target = /→ (\S+) via cloud$/.exec(cloudCallout?.path ?? '')?.[1] ?? '';
    expect(target).toMatch(/@live\.contoso\.edu$/);
    goneFromCloud.add(target);
    const { code, report, text } = await mailflow();
    expect(code).toBe(1);
    expect(failed(report)).toEqual([
      expect.stringMatching(new RegExp(`^callout rcpt \\S+ → ${target.replace(/\./g, '\\.')} via cloud: 550 5\\.1\\.1 `)),
    ]);
    expect(text).toMatch(/MAIL FLOW BROKEN$/m);
  });

  it('a next hop that is down fails the next-hop stage', async () => {
    goneFromCloud.clear();
    t = await setup();
    const port = t.sinks.legacy.port;
    await t.sinks.legacy.close();
    const { code, report } = await mailflow();
    expect(code).toBe(1);
    expect(failed(report)).toEqual([`nexthop connector legacy 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`]);
  });

  it('a connector with tls: required to a host without STARTTLS fails the next-hop stage', async () => {
    goneFromCloud.clear();
    t = await setup({
      adjust: (raw) => {
        for (const c of raw.connectors as { name: string; tls: string }[]) if (c.name === 'legacy') c.tls = 'required';
      },
    });
    const { code, report } = await mailflow();
    expect(code).toBe(1);
    expect(failed(report)).toEqual([expect.stringMatching(/^nexthop connector legacy 127\.0\.0\.1:\d+: not offered$/)]);
    expect(report.checks.find((c) => c.ok === false)?.expected).toBe('STARTTLS (tls: required)');
  });

  it('an internalRelay next hop that is another relay of this deployment (sending back here) is a loop', async () => {
    goneFromCloud.clear();
    // the legacy next hop is a second relay with the same name and table: contoso.edu unknowns would go round
    const peerPort = await freePort();
    t = await setup({
      adjust: (raw) => {
        for (const c of raw.connectors as { name: string; smartHosts: string[] }[])
          if (c.name === 'legacy') c.smartHosts = [`127.0.0.1:${peerPort}`];
      },
    });
    other = await startRelay({
      config: { ...t.env.config, relay: { ...t.env.config.relay, listen: [`127.0.0.1:${peerPort}`] } },
      log: createLogger('peer', 'silent'),
      deliver: false,
    });
    const { code, report } = await mailflow();
    expect(code).toBe(1);
    expect(failed(report)).toEqual([
      `nexthop connector legacy 127.0.0.1:${peerPort}: greets as mx.test.contoso.edu: this relay's own name (mail loop)`,
    ]);
  });

  it('a target domain with no route fails the static stage', async () => {
    goneFromCloud.clear();
    t = await setup({
      adjust: (raw) => {
        for (const c of raw.connectors as { name: string; addressSpaces?: string[] }[])
          if (c.name === 'internet') c.addressSpaces = ['partner.example'];
        (raw.mailflow as Record<string, unknown>).probeRecipients = [];
      },
    });
    const { code, report } = await mailflow();
    expect(code).toBe(1);
    expect(failed(report)).toEqual([
      'static target old-vendor.example: no route (451 4.4.0 to senders)',
      'static target remote.domain: no route (451 4.4.0 to senders)',
      'static outbound: none: trusted clients cannot send out',
    ]);
  });

  it('runs on mailflow.schedule as a BullMQ job in the worker, its results in switchyard_mailflow_check', async () => {
    goneFromCloud.clear();
    t = await setup({ adjust: (raw) => void ((raw.mailflow as Record<string, unknown>).schedule = '* * * * * *') });
    const worker = await startWorker({ config: t.env.config, log: createLogger('worker', 'silent') });
    try {
      let report = await lastMailflow(t.env.redis, t.env.keys);
      for (let i = 0; i < 150 && report === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        report = await lastMailflow(t.env.redis, t.env.keys);
      }
      expect(report?.ok).toBe(true);
      expect(report?.checks.some((c) => c.stage === 'send')).toBe(false); // a schedule never sends
    } finally {
      await worker.close();
    }
    // the next hop goes down: the CLI run's report replaces the scheduled one in the metrics
    await t.sinks.legacy.close();
    expect((await mailflow()).code).toBe(1);
    const text = await createMetrics({ redis: t.env.redis, keys: t.env.keys }).registry.metrics();
    expect(text).toContain('switchyard_mailflow_check{stage="static",path="outbound"} 1');
    expect(text).toMatch(/switchyard_mailflow_check\{stage="nexthop",path="connector legacy 127\.0\.0\.1:\d+"\} 0/);
    expect(text).toMatch(/switchyard_mailflow_check\{stage="nexthop",path="connector onprem 127\.0\.0\.1:\d+"\} 1/);
  });
});
