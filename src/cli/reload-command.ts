/**
 * `switchyard reload`: asks every relay and worker registered in the namespace to re-read
 * its configuration file (SPEC §5), prints one line per process, and fails when one refused
 * or did not answer within 10 s.
 */
import { requestReload } from '../store/control.js';
import { withContext } from './context.js';

const ANSWER_WITHIN_MS = 10_000;

export async function reloadCommand(flags: { config: string }): Promise<number> {
  // the worker profile: no command timeout under the blocking wait for answers
  return withContext({ configPath: flags.config, profile: 'worker' }, async ({ redis, keys, config }) => {
    const answers = await requestReload(redis, keys, ANSWER_WITHIN_MS);
    if (answers.length === 0) throw new Error(`no relay or worker is registered in namespace "${config.redis.namespace}"`);
    for (const a of answers) {
      const line = a.outcome === 'refused' ? `refused: ${a.reason ?? 'no reason given'}` : a.outcome;
      process.stdout.write(`${a.process} ${line}\n`);
    }
    const failed = answers.filter((a) => a.outcome !== 'reloaded').length;
    const { recordAudit, osOperator } = await import('../audit/log.js');
    await recordAudit(redis, keys, config.audit.maxEntries, {
      who: osOperator(),
      action: 'reload',
      what: `namespace ${config.redis.namespace}`,
      result: answers.map((a) => `${a.process} ${a.outcome === 'refused' ? `refused: ${a.reason ?? '?'}` : a.outcome}`).join('; '),
    }).catch((err: unknown) => process.stderr.write(`switchyard: audit entry not written: ${String(err)}\n`));
    if (failed > 0) process.stderr.write(`switchyard: ${failed} of ${answers.length} processes did not reload\n`);
    return failed > 0 ? 1 : 0;
  });
}
