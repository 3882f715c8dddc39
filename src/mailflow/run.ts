/**
 * `switchyard test mailflow` (SPEC §11): the four stages in order, one report. The result is
 * kept in Redis (`{ns}:mailflow:last`) for the metrics (`switchyard_mailflow_check`) and the
 * status page.
 */
import type { Config } from '../config/schema.js';
import { localAddresses } from '../config/self-route.js';
import { parseDuration } from '../config/duration.js';
import { createResolver } from '../resolver/resolver.js';
import { routingContext } from '../routing/decide.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { traceSettings } from '../trace/cli.js';
import type { Check } from './check.js';
import { calloutChecks, nextHopChecks } from './nexthop.js';
import { sampleTable } from './sample.js';
import { sendChecks } from './send.js';
import { staticChecks } from './static.js';

export interface MailflowOptions {
  readonly send: boolean;
  /** Recipients per connector for callouts; Infinity for `--all`. */
  readonly sample: number;
  readonly env?: NodeJS.ProcessEnv;
}

export interface MailflowReport {
  readonly at: number;
  readonly ok: boolean;
  readonly checks: readonly Check[];
}

export async function runMailflow(redis: RedisClient, keys: Keys, config: Config, o: MailflowOptions): Promise<MailflowReport> {
  const resolver = createResolver({ redis, keys, context: routingContext(config) });
  const timeoutMs = parseDuration(config.mailflow.timeout);
  const sample = await sampleTable(redis, keys, resolver, o.sample);
  const ownNames = new Set([...localAddresses(), config.relay.hostname.toLowerCase()]);
  const hop = { hostname: config.relay.hostname, timeoutMs, ratePerSecond: config.mailflow.calloutRate, ...(o.env ? { env: o.env } : {}) };
  const checks: Check[] = [
    ...staticChecks(config, sample.targetDomains, ownNames),
    ...(await nextHopChecks(config.connectors, hop)),
    ...(await calloutChecks(config.connectors, sample.byConnector, hop)),
    ...(o.send ? await sendChecks({ config, redis, keys, resolver, trace: traceSettings(config), timeoutMs }) : []),
  ];
  const report: MailflowReport = { at: Date.now(), ok: checks.every((c) => c.ok !== false), checks };
  await redis.set(keys.mailflowLast, JSON.stringify(report));
  return report;
}

/** The last report any run stored, for metrics and the status page. */
export async function lastMailflow(redis: RedisClient, keys: Keys): Promise<MailflowReport | undefined> {
  const raw = await redis.get(keys.mailflowLast);
  return raw === null ? undefined : (JSON.parse(raw) as MailflowReport);
}

/** The report as a table for a terminal: stage, path, expected, observed, ok. */
export function formatMailflow(r: MailflowReport): string {
  const rows = r.checks.map((c) => [c.stage, c.path, c.expected, c.observed, c.ok === null ? 'skip' : c.ok ? 'ok' : 'FAIL']);
  const head = ['stage', 'path', 'expected', 'observed', 'ok'];
  const widths = head.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length))));
  const fmt = (row: readonly string[]): string =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  const failed = r.checks.filter((c) => c.ok === false).length;
  const skipped = r.checks.filter((c) => c.ok === null).length;
  return [
    fmt(head),
    ...rows.map(fmt),
    '',
    `${r.checks.length} checks: ${failed} failed, ${skipped} skipped — ${r.ok ? 'mail flow holds' : 'MAIL FLOW BROKEN'}`,
  ].join('\n');
}
