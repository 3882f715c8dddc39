/**
 * `switchyard trace [--id | --message-id | --sender | --recipient] [--since] [--json]` and
 * `switchyard audit [--since] [--json]` (SPEC §11): one timeline per message, or the log
 * of operator actions.
 */
import { DURATION, parseDuration } from '../config/duration.js';
import { openContext } from './context.js';
import { UsageError } from './usage-error.js';
import type { TraceQuery } from '../trace/search.js';

export interface TraceFlags {
  readonly config: string;
  readonly id?: string;
  readonly messageId?: string;
  readonly sender?: string;
  readonly recipient?: string;
  readonly since?: string;
  readonly json?: boolean;
}

function since(flag: string | undefined): number | undefined {
  if (flag === undefined) return undefined;
  if (!DURATION.test(flag)) throw new UsageError(`--since ${flag}: not a duration (use 30s, 15m, 4h or 2d)`);
  return Date.now() - parseDuration(flag);
}

function query(flags: TraceFlags): TraceQuery {
  const given: TraceQuery[] = [
    ...(flags.id !== undefined ? [{ id: flags.id }] : []),
    ...(flags.messageId !== undefined ? [{ messageId: flags.messageId }] : []),
    ...(flags.sender !== undefined ? [{ sender: flags.sender }] : []),
    ...(flags.recipient !== undefined ? [{ recipient: flags.recipient }] : []),
  ];
  const [q] = given;
  if (q === undefined || given.length > 1) throw new UsageError('trace: name exactly one of --id, --message-id, --sender, --recipient');
  return q;
}

export async function traceCommand(flags: TraceFlags): Promise<number> {
  const q = query(flags);
  const from = since(flags.since);
  const ctx = await openContext({ configPath: flags.config });
  try {
    const { searchTrace } = await import('../trace/search.js');
    const { traceSettings } = await import('../trace/cli.js');
    const { formatTimeline } = await import('../trace/format.js');
    const found = await searchTrace(ctx.redis, ctx.keys, traceSettings(ctx.config), q, from);
    if (flags.json) for (const t of found) process.stdout.write(`${JSON.stringify(t)}\n`);
    else if (found.length === 0) process.stdout.write('no trace found\n');
    else process.stdout.write(`${found.map(formatTimeline).join('\n\n')}\n`);
    return found.length > 0 ? 0 : 1;
  } finally {
    await ctx.close();
  }
}

export async function auditCommand(flags: { config: string; since?: string; json?: boolean }): Promise<number> {
  const from = since(flags.since);
  const ctx = await openContext({ configPath: flags.config });
  try {
    const { readAudit } = await import('../audit/log.js');
    const entries = await readAudit(ctx.redis, ctx.keys, from);
    for (const e of entries) {
      process.stdout.write(
        flags.json ? `${JSON.stringify(e)}\n` : `${new Date(e.at).toISOString()}  ${e.who}  ${e.action}  ${e.what}  → ${e.result}\n`,
      );
    }
    if (!flags.json && entries.length === 0) process.stdout.write('no operator action recorded\n');
    return 0;
  } finally {
    await ctx.close();
  }
}
