/** `resolve`, `status`, `conflicts`, `rollback`, `resume` and `source remove`: read or switch the published table. */
import { createResolver } from '../resolver/resolver.js';
import { routingContext } from '../routing/decide.js';
import { listConflicts, readStatus } from '../store/status.js';
import { createInterface } from 'node:readline/promises';
import { sourceSchedule, type SourceSchedule } from '../store/source-schedule.js';
import { pinText } from '../store/pins.js';
import { withContext } from './context.js';
import { decisionJson, stalenessJson, statusJson } from '../report/json.js';
import { completeness, readStaleness } from '../report/health.js';
import {
  formatCompleteness,
  formatConflict,
  formatDecision,
  formatSchedule,
  formatSourceReports,
  formatStaleness,
  formatStatus,
} from './format.js';
import { readSourceReports } from '../store/source-report.js';
import { sourceReportsJson } from '../report/source-reports.js';
import { UsageError } from './usage-error.js';
import { readContactsRuns } from '../store/contacts-runs.js';
import { formatContactsRuns } from './contacts-format.js';

interface Common {
  readonly config: string;
  readonly json?: boolean;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function resolveCommand(addresses: readonly string[], flags: Common & { fromTrusted?: boolean }): Promise<number> {
  return withContext({ configPath: flags.config, requireRedis: false }, async (ctx) => {
    const resolver = createResolver({ redis: ctx.redis, keys: ctx.keys, context: routingContext(ctx.config) });
    const decisions = await resolver.resolve(addresses, flags.fromTrusted === true);
    for (const d of decisions) print(flags.json ? JSON.stringify(decisionJson(d)) : formatDecision(d));
    return 0;
  });
}

export async function statusCommand(flags: Common): Promise<number> {
  return withContext({ configPath: flags.config }, async (ctx) => {
    const status = await readStatus(ctx.redis, ctx.keys);
    const conflicts = (await listConflicts(ctx.redis, ctx.keys)).length;
    const schedule = await sourceSchedule(ctx.redis, ctx.keys, ctx.config);
    const health = completeness(ctx.config, status);
    const stale = await readStaleness(ctx.redis, ctx.keys, ctx.config, status);
    const reports = await readSourceReports(ctx.redis, ctx.keys);
    const contacts = await readContactsRuns(ctx.redis, ctx.keys);
    print(
      flags.json
        ? JSON.stringify({
            ...statusJson(status, conflicts, health),
            schedule,
            ...stalenessJson(stale),
            ...sourceReportsJson(reports),
            contacts,
          })
        : [
            formatStatus(status, conflicts),
            formatCompleteness(status, health),
            formatStaleness(stale),
            formatSchedule(schedule) + pinnedLines(schedule),
            formatSourceReports(reports),
            ...(contacts.length > 0 ? [formatContactsRuns(contacts)] : []),
          ].join('\n'),
    );
    return 0;
  });
}

function pinnedLines(schedule: readonly SourceSchedule[]): string {
  const pinned = schedule.flatMap((s) => (s.pinned ? [`  ${s.source}: ${pinText(s.pinned)}`] : []));
  return pinned.length > 0 ? `\npinned:\n${pinned.join('\n')}` : '';
}

export async function conflictsCommand(flags: Common): Promise<number> {
  return withContext({ configPath: flags.config }, async (ctx) => {
    const conflicts = await listConflicts(ctx.redis, ctx.keys);
    if (flags.json) for (const c of conflicts) print(JSON.stringify(c));
    else if (conflicts.length === 0) print('no conflicts');
    else for (const c of conflicts) print(formatConflict(c));
    return 0;
  });
}

export interface RollbackFlags extends Common {
  readonly to?: string;
  readonly source?: string;
  readonly yes?: boolean;
}

/** Asks on the terminal; false unless the answer is yes. */
async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

export async function rollbackCommand(flags: RollbackFlags): Promise<number> {
  let to: number | undefined;
  if (flags.to !== undefined) {
    to = Number(flags.to);
    if (!Number.isInteger(to) || to < 1) throw new UsageError(`--to ${flags.to}: not a table version number`);
  }
  return withContext({ configPath: flags.config }, async (ctx) => {
    const { planRollback, applyRollback, formatPlan } = await import('../pipeline/rollback.js');
    const plan = await planRollback(ctx.redis, ctx.keys, ctx.config, {
      ...(to !== undefined ? { to } : {}),
      ...(flags.source !== undefined ? { source: flags.source } : {}),
    });
    if (!flags.json) print(formatPlan(plan));
    if (flags.yes !== true) {
      if (!process.stdin.isTTY) {
        if (flags.json) print(JSON.stringify({ plan, rolledBack: false }));
        throw new UsageError('rollback: not confirmed (no terminal to ask on); re-run with --yes to roll back');
      }
      if (!(await confirm('roll back? [y/N] '))) {
        print('not rolled back');
        return 1;
      }
    }
    const { audited, osOperator } = await import('../audit/log.js');
    const what = `${plan.source ? `source ${plan.source}` : 'table'} to version ${flags.to ?? 'previous'}`;
    const r = await audited(
      ctx.redis,
      ctx.keys,
      ctx.config.audit.maxEntries,
      osOperator(),
      'rollback',
      what,
      () => applyRollback(ctx.redis, ctx.keys, ctx.config, plan),
      (v) => `published version ${v.version}`,
    );
    print(
      flags.json
        ? JSON.stringify({ ...r, changes: plan.changes })
        : `published table version ${r.version} (${plan.source ? `source ${plan.source} as in` : 'the content of'} version ${r.restored})${r.pinned.length > 0 ? `; pinned: ${r.pinned.join(', ')} — their syncs are paused until switchyard resume SOURCE` : ''}`,
    );
    return 0;
  });
}

export async function resumeCommand(name: string, flags: Common): Promise<number> {
  const known = await withContext({ configPath: flags.config }, async (ctx) => {
    if (!ctx.config.sources.some((s) => s.name === name)) {
      throw new UsageError(
        `${name}: no such source in ${flags.config} (have: ${ctx.config.sources.map((s) => s.name).join(', ') || 'none'})`,
      );
    }
    const { unpin } = await import('../store/pins.js');
    // the rollback dropped the watermark: the sync below (and any delta after it) is a full one
    await ctx.redis.hdel(ctx.keys.syncState, name);
    const { audited, osOperator } = await import('../audit/log.js');
    return audited(
      ctx.redis,
      ctx.keys,
      ctx.config.audit.maxEntries,
      osOperator(),
      'resume',
      `source ${name}`,
      () => unpin(ctx.redis, ctx.keys, name),
      (was) => (was ? 'unpinned; full sync started' : 'was not pinned; full sync started'),
    );
  });
  if (!flags.json) print(known ? `source ${name} unpinned; running a full sync` : `source ${name} was not pinned; running a full sync`);
  const { syncCommand } = await import('./sync-command.js');
  return syncCommand(name, { config: flags.config, full: true, ...(flags.json ? { json: true } : {}) });
}

export async function sourceRemoveCommand(name: string, flags: Common & { allowMassDelete?: boolean }): Promise<number> {
  return withContext({ configPath: flags.config }, async (ctx) => {
    const { removeSource } = await import('../pipeline/remove-source.js');
    const { audited, osOperator } = await import('../audit/log.js');
    const what = `source ${name}${flags.allowMassDelete === true ? ' (--allow-mass-delete)' : ''}`;
    const r = await audited(
      ctx.redis,
      ctx.keys,
      ctx.config.audit.maxEntries,
      osOperator(),
      'source-remove',
      what,
      () => removeSource(ctx.redis, ctx.keys, ctx.config, name, { allowMassDelete: flags.allowMassDelete === true }),
      (v) => `published version ${v.version}, ${v.objects} objects removed`,
    );
    print(
      flags.json
        ? JSON.stringify(r)
        : `published table version ${r.version} without source ${r.source} (${r.objects} objects, ${r.addresses} addresses removed)`,
    );
    return 0;
  });
}
