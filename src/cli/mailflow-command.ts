/** `switchyard test mailflow [--send] [--sample N | --all] [--json]` (SPEC §11): exit 0 when every check holds. */
import { openContext } from './context.js';
import { UsageError } from './usage-error.js';

export interface MailflowFlags {
  readonly config: string;
  readonly send?: boolean;
  readonly sample?: string;
  readonly all?: boolean;
  readonly json?: boolean;
}

export async function mailflowCommand(flags: MailflowFlags): Promise<number> {
  if (flags.sample !== undefined && flags.all) throw new UsageError('test mailflow: --sample and --all exclude each other');
  const n = flags.sample !== undefined ? Number(flags.sample) : undefined;
  if (n !== undefined && (!Number.isInteger(n) || n < 0)) throw new UsageError(`--sample ${flags.sample}: not a whole number`);
  const ctx = await openContext({ configPath: flags.config });
  try {
    const { runMailflow, formatMailflow } = await import('../mailflow/run.js');
    const report = await runMailflow(ctx.redis, ctx.keys, ctx.config, {
      send: flags.send === true,
      sample: flags.all ? Infinity : (n ?? ctx.config.mailflow.sample),
    });
    process.stdout.write(flags.json ? `${JSON.stringify(report)}\n` : `${formatMailflow(report)}\n`);
    return report.ok ? 0 : 1;
  } finally {
    await ctx.close();
  }
}
