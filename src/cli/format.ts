/** Human-readable renderings of command results (the --json forms are the objects themselves). */
import type { Decision } from '../routing/decide.js';
import type { PublishResult } from '../pipeline/types.js';
import type { ChangedObject } from '../pipeline/dry-run.js';
import type { Conflict, TableStatus } from '../store/status.js';
import type { SourceSchedule } from '../store/source-schedule.js';
import type { Completeness, SourceStaleness } from '../report/health.js';
import type { SourceReport } from '../store/source-report.js';

/** One changed object of a dry run: its DN, then each changed field old → new. */
export function formatChange(c: ChangedObject): string {
  const v = (x: string | null): string => x ?? '(none)';
  const parts: string[] = [];
  if (c.dnBefore) parts.push(`dn ${c.dnBefore} → ${c.dn}`);
  if (c.kind) parts.push(`kind ${v(c.kind.old)} → ${v(c.kind.new)}`);
  if (c.targetAddress) parts.push(`targetAddress ${v(c.targetAddress.old)} → ${v(c.targetAddress.new)}`);
  if (c.primary) parts.push(`primary ${v(c.primary.old)} → ${v(c.primary.new)}`);
  if (c.proxyAddresses) {
    const p = [...c.proxyAddresses.added.map((a) => `+${a}`), ...c.proxyAddresses.removed.map((a) => `-${a}`)];
    parts.push(`proxyAddresses ${p.join(' ')}`);
  }
  return `${c.dn}: ${parts.join('; ') || 'stored fields only'}`;
}

/** A publish result; a dry run's lists are cut at `shown` entries each (the --json form has them whole). */
export function formatPublish(r: PublishResult, shown = 10): string {
  const c = r.counts;
  const lines = [
    `${r.dryRun ? 'dry run' : r.unchanged ? `no change, table version ${r.version} kept` : `published table version ${r.version}`}: source ${r.source}, ${(r.durationMs / 1000).toFixed(2)} s`,
    `  objects    ${c.objects} (added ${c.added}, changed ${c.changed}, unchanged ${c.unchanged}, removed ${c.removed})`,
    `  addresses  ${c.addresses} (added ${c.addressesAdded}, removed ${c.addressesRemoved})`,
    `  conflicts  ${c.conflicts} (new ${c.newConflicts})`,
  ];
  if (c.skipped > 0) lines.push(`  skipped    ${c.skipped} not mail-enabled`);
  if (c.invalid > 0) lines.push(`  invalid    ${c.invalid} (not published)`);
  if (r.paced)
    lines.push(
      `  paced      ${r.paced.batches} batches while relays answered, ${r.paced.redisMs === undefined ? '' : `${(r.paced.redisMs / 1000).toFixed(2)} s charged as Redis time, `}${(r.paced.pausedMs / 1000).toFixed(2)} s paused for their lookups (table.stageDuty ${r.paced.duty})`,
    );
  const list = (name: string, values: readonly string[], total: number): void => {
    if (values.length === 0) return;
    lines.push(`  ${name}:`, ...values.map((v) => `    ${v}`));
    if (total > values.length) lines.push(`    … and ${total - values.length} more`);
  };
  if (r.dryRun && r.diff) {
    const d = r.diff;
    const cut = <T>(values: readonly T[]): T[] => values.slice(0, shown);
    list('added', cut(d.added), d.added.length);
    list('removed', cut(d.removed), d.removed.length);
    list('changed', cut(d.changed).map(formatChange), d.changed.length);
    list('addresses added', cut(d.addressesAdded), d.addressesAdded.length);
    list('addresses removed', cut(d.addressesRemoved), d.addressesRemoved.length);
    list('new conflicts', cut(d.newConflicts), d.newConflicts.length);
    if (r.refusal) lines.push(`  a real run would be ${r.refusal}`);
  } else if (r.dryRun) {
    list('added', r.samples.added, c.added);
    list('changed', r.samples.changed, c.changed);
    list('removed', r.samples.removed, c.removed);
    list('conflicted addresses', r.samples.conflicts, c.conflicts);
    if (r.refusal) lines.push(`  a real run would be ${r.refusal}`);
  }
  return lines.join('\n');
}

export function formatDecision(d: Decision): string {
  const to = d.action === 'route' ? ` → ${d.recipient} via ${d.connector}` : '';
  const obj = d.object ? `  [${d.object.source}: ${d.object.dn}]` : '';
  return `${d.address}: ${d.action}${to} (${d.reason}) "${d.smtp}"${obj}`;
}

export function formatStatus(s: TableStatus, conflicts: number): string {
  if (!s.current) return 'no routing table published yet (RCPT answers 451 4.3.0 until the first import or full sync)';
  const m = s.current.meta;
  const lines = [
    `table version ${s.current.version}, published ${m?.publishedAt ?? '?'} by ${m?.cause ?? '?'}${m?.source ? ` of ${m.source}` : ''}${m?.rollbackOf ? ` (rollback to ${m.rollbackOf})` : ''}`,
    `conflicts ${conflicts}`,
    'sources:',
    ...s.sources.map(
      (src) =>
        `  ${src.source}: ${src.meta?.objects ?? '?'} objects, ${src.meta?.addresses ?? '?'} addresses, ${src.meta?.conflicts ?? 0} conflicts, from ${src.meta?.origin ?? '?'} at ${src.meta?.createdAt ?? '?'}`,
    ),
    `kept versions: ${keptVersions(s.history.map((v) => v.version))}`,
  ];
  return lines.join('\n');
}

export function formatCompleteness(s: TableStatus, h: Completeness): string {
  if (!s.current) return `complete: no (no table)`;
  if (h.complete) return 'complete: yes (every configured source is in the table)';
  return `complete: NO, missing sources ${h.missingSources.join(', ')} (unknown recipients of authoritative domains get 451 4.3.0 until they publish)`;
}

export function formatStaleness(rows: readonly SourceStaleness[]): string {
  const stale = rows.filter((r) => r.stale);
  if (stale.length === 0) return 'stale sources: none';
  return [
    'stale sources:',
    ...stale.map(
      (r) =>
        `  ${r.source}: STALE since ${r.staleSince ?? '?'}, last success ${r.lastSuccess ?? 'never'} (staleAfter ${r.staleAfterSeconds ?? '?'} s)`,
    ),
  ].join('\n');
}

export function formatConflict(c: Conflict): string {
  const q = c.quarantined.map((p) => `${p.source}: ${p.dn}`).join('; ');
  return `${c.address}: kept by ${c.winner.source}: ${c.winner.dn}; quarantined on ${q}`;
}

export function formatSchedule(rows: readonly SourceSchedule[]): string {
  const lines = ['runs:'];
  for (const r of rows) {
    const last = r.lastRun
      ? `last ${r.lastRun.kind}${r.lastRun.mode ? ` (${r.lastRun.mode})` : ''} ${r.lastRun.ok ? 'ok' : `FAILED: ${r.lastRun.error ?? '?'}`} at ${r.lastRun.at} in ${(r.lastRun.durationMs / 1000).toFixed(2)} s${r.lastRun.version ? `, version ${r.lastRun.version}` : ''}`
      : 'never run';
    const wm = r.watermark
      ? r.watermark.mode === 'ad'
        ? `; watermark USN ${r.watermark.usn} on ${r.watermark.dsServiceName}`
        : `; watermark ${r.watermark.modifyTimestamp}`
      : '';
    lines.push(
      `  ${r.source}: ${last}; ${r.runs} runs; next full sync ${r.nextRun ?? 'not scheduled'}${r.nextDelta ? `, next delta ${r.nextDelta}` : ''}${wm}`,
    );
  }
  return lines.join('\n');
}

/** Skipped and held LDAP entries per source (SPEC §2.2); each list cut at `shown` lines. */
export function formatSourceReports(reports: ReadonlyMap<string, SourceReport>, shown = 20): string {
  const lines = ['entries skipped or held:'];
  if (reports.size === 0) lines.push('  none reported');
  for (const r of reports.values()) {
    lines.push(`  ${r.source}: ${r.skipped.length} skipped, ${r.held.length} held, ${r.notMailEnabled} not mail-enabled (as of ${r.at})`);
    const list = (what: string, entries: SourceReport['skipped']): void => {
      for (const e of entries.slice(0, shown)) lines.push(`    ${what} ${e.dn}${e.id ? ` (${e.id})` : ''}: ${e.reason}`);
      if (entries.length > shown) lines.push(`    … and ${entries.length - shown} more ${what}`);
    };
    list('held', r.held);
    list('skipped', r.skipped);
  }
  return lines.join('\n');
}

/** With deltas and `table.keepFor` a day of versions can be thousands: the newest few and the oldest. */
function keptVersions(versions: readonly number[], shown = 15): string {
  if (versions.length <= shown + 1) return versions.join(', ');
  return `${versions.slice(0, shown).join(', ')}, … ${versions.length - shown - 1} more …, ${versions[versions.length - 1]} (${versions.length} in all)`;
}
