/**
 * `switchyard contacts export|apply` (SPEC §10).
 * export: the contacts of one source's objects in the table, as csvde or LDIF, to a file or stdout.
 * apply: goes through the contacts queue when a worker is listening, else runs inline (or with --inline).
 */
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { exportContacts } from '../contacts/export.js';
import type { ApplyResult } from '../contacts/apply.js';
import { runGalSync } from '../contacts/run.js';
import { contactsJobOptions, createQueues, type ContactsJobData } from '../jobqueue/queues.js';
import { sourceObjects } from '../store/source-objects.js';
import { formatApply, formatCounts } from './contacts-format.js';
import { withContext } from './context.js';
import { createProgress } from './progress.js';
import { waitForJob, workersListening } from './queued.js';
import { UsageError } from './usage-error.js';

export interface ExportFlags {
  readonly config: string;
  readonly from: string;
  readonly routingDomain: string;
  readonly ou: string;
  readonly format?: string;
  readonly unicode?: boolean;
  readonly out?: string;
}

/** The direction and options of the job, plus the command's own flags. */
export interface ApplyFlags extends Omit<ContactsJobData, 'trigger' | 'slot'> {
  readonly config: string;
  readonly json?: boolean;
  readonly inline?: boolean;
}

export async function contactsExportCommand(flags: ExportFlags): Promise<number> {
  const format = flags.format ?? 'csvde';
  if (format !== 'csvde' && format !== 'ldif') throw new UsageError(`--format ${format}: csvde or ldif`);
  if (flags.unicode === true && format !== 'csvde') throw new UsageError('--unicode is for --format csvde (csvde -u); LDIF is UTF-8');
  return withContext({ configPath: flags.config, profile: 'worker' }, async (ctx) => {
    if (!ctx.config.sources.some((s) => s.name === flags.from))
      throw new UsageError(`--from ${flags.from}: no such source in ${flags.config}`);
    const out: Writable = flags.out !== undefined ? createWriteStream(flags.out) : process.stdout;
    const result = await exportContacts(sourceObjects(ctx.redis, ctx.keys, flags.from), out, {
      routingDomain: flags.routingDomain,
      ou: flags.ou,
      format,
      unicode: flags.unicode === true,
    });
    if (flags.out !== undefined) {
      out.end();
      await finished(out);
    }
    process.stderr.write(
      `${result.exported} contacts exported (${result.left} mail users and contacts left out: they point elsewhere already)\n`,
    );
    return 0;
  });
}

export async function contactsApplyCommand(flags: ApplyFlags): Promise<number> {
  return withContext({ configPath: flags.config, profile: 'worker' }, async (ctx) => {
    const data: ContactsJobData = {
      from: flags.from,
      to: flags.to,
      ou: flags.ou,
      routingDomain: flags.routingDomain,
      trigger: 'request',
      dryRun: flags.dryRun === true,
      allowMassDelete: flags.allowMassDelete === true,
    };
    const queues = createQueues(ctx.redis, ctx.keys);
    let result: ApplyResult;
    let queued = false;
    try {
      queued = flags.inline !== true && (await workersListening(queues.contacts));
      if (queued) {
        const job = await queues.contacts.add('contacts', data, contactsJobOptions(data));
        result = (await waitForJob(
          ctx,
          queues.contacts,
          job,
          `contacts ${flags.from} → ${flags.to} (job ${job.id})`,
        )) as unknown as ApplyResult; // jobs/contacts.ts returns the ApplyResult
      } else {
        const progress = createProgress(`contacts ${flags.from} → ${flags.to}`, 0);
        try {
          result = await runGalSync({ redis: ctx.redis, keys: ctx.keys, config: ctx.config, env: process.env }, data, {
            dryRun: data.dryRun === true,
            allowMassDelete: data.allowMassDelete === true,
            onProgress: ({ done, total }) => progress.update(done, `${done} of ${total} written`),
          });
        } finally {
          progress.stop();
        }
      }
    } finally {
      await queues.close();
    }
    if (!result.dryRun) {
      // an operator action (SPEC §11): who applied which direction, and what it wrote
      const { recordAudit, osOperator } = await import('../audit/log.js');
      await recordAudit(ctx.redis, ctx.keys, ctx.config.audit.maxEntries, {
        who: osOperator(),
        action: 'contacts-apply',
        what: `${flags.from} → ${flags.to} in ${flags.ou}${flags.allowMassDelete === true ? ' (--allow-mass-delete)' : ''}`,
        result: formatCounts(result.counts),
      }).catch((err: unknown) => process.stderr.write(`switchyard: audit entry not written: ${String(err)}\n`));
    }
    if (flags.json) process.stdout.write(`${JSON.stringify({ queued, ...result })}\n`);
    else {
      process.stdout.write(`${result.dryRun ? 'dry run, nothing written: ' : ''}${formatApply(result)}\n`);
      if (result.dryRun) {
        const p = result.planned;
        for (const dn of p.add) process.stdout.write(`  + ${dn}\n`);
        for (const r of p.rename) process.stdout.write(`  > ${r.from} → ${r.to}\n`);
        for (const dn of p.modify) process.stdout.write(`  ~ ${dn}\n`);
        for (const dn of p.delete) process.stdout.write(`  - ${dn}\n`);
      }
    }
    if (result.errors.length > 0)
      process.stderr.write(`switchyard: ${result.errors.length} contacts could not be written (listed above)\n`);
    return result.errors.length > 0 ? 1 : 0;
  });
}
