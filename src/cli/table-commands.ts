/** `resolve`, `status`, `conflicts` and `rollback`: read or switch the published table. */
import { createResolver } from '../resolver/resolver.js';
import { routingContext } from '../routing/decide.js';
import { listConflicts, readStatus } from '../store/status.js';
import { collectGarbage } from '../store/gc.js';
import { rollback } from '../store/table.js';
import { sourceSchedule } from '../store/source-schedule.js';
import { withContext } from './context.js';
import { decisionJson, statusJson } from '../report/json.js';
import { formatConflict, formatDecision, formatSchedule, formatSourceReports, formatStatus } from './format.js';
import { readSourceReports } from '../store/source-report.js';
import { sourceReportsJson } from '../report/source-reports.js';
import { UsageError } from './usage-error.js';

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
    const reports = await readSourceReports(ctx.redis, ctx.keys);
    print(
      flags.json
        ? JSON.stringify({ ...statusJson(status, conflicts), schedule, ...sourceReportsJson(reports) })
        : `${formatStatus(status, conflicts)}\n${formatSchedule(schedule)}\n${formatSourceReports(reports)}`,
    );
    return 0;
  });
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

export async function rollbackCommand(flags: Common & { to?: string }): Promise<number> {
  let to: number | undefined;
  if (flags.to !== undefined) {
    to = Number(flags.to);
    if (!Number.isInteger(to) || to < 1) throw new UsageError(`--to ${flags.to}: not a table version number`);
  }
  return withContext({ configPath: flags.config }, async (ctx) => {
    const r = await rollback(ctx.redis, ctx.keys, to, ctx.config.table.versionsKept);
    await collectGarbage(ctx.redis, ctx.keys);
    print(flags.json ? JSON.stringify(r) : `published table version ${r.version} (the content of version ${r.restored})`);
    return 0;
  });
}
