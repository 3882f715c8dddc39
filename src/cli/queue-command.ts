/**
 * `switchyard queue list|hold|release|retry|delete`: operate on queued deliveries by
 * message or unit id, recipient or next hop. A smart-host outage fills the queue; these
 * let an operator hold a hop, retry it once it is back, or delete what must not go.
 */
import { createQueueStore, type QueueEntry } from '../mailqueue/store.js';
import { isEmptySelector, selectEntries, type Selector } from '../mailqueue/select.js';
import { operatorEvent } from '../trace/events.js';
import { openContext } from './context.js';
import { UsageError } from './usage-error.js';

export type QueueAction = 'list' | 'hold' | 'release' | 'retry' | 'delete';

export interface QueueFlags {
  readonly config: string;
  readonly recipient?: string;
  readonly hop?: string;
  readonly all?: boolean;
  readonly json?: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

function formatEntry(e: QueueEntry): string {
  const when = e.state === 'ready' ? `due ${iso(e.at)}` : e.state === 'active' ? 'in delivery' : `held since ${iso(e.at)}`;
  const rcpts = e.rcpts.map((r) => (r.rcpt === r.orig ? r.rcpt : `${r.rcpt} (for ${r.orig})`)).join(', ');
  const last = e.lastError ? `\n    last: ${e.lastError}` : '';
  return `${e.uid}  ${e.state.padEnd(6)}  hop ${e.hop}  from <${e.from}>  arrived ${iso(e.arrived)}  attempts ${e.attempts}  ${when}\n    to: ${rcpts}${last}`;
}

export async function queueCommand(action: QueueAction, ids: readonly string[], flags: QueueFlags): Promise<number> {
  const selector: Selector = { ids, ...(flags.recipient ? { recipient: flags.recipient } : {}), ...(flags.hop ? { hop: flags.hop } : {}) };
  if (action !== 'list' && isEmptySelector(selector) && !flags.all) {
    throw new UsageError(`queue ${action}: name ids, --recipient or --hop (or --all)`);
  }
  const ctx = await openContext({ configPath: flags.config });
  try {
    const store = createQueueStore(ctx.redis, ctx.keys, { shards: ctx.config.queue.shards });
    const entries = selectEntries(await store.list(), selector);
    if (action === 'list') {
      if (flags.json) for (const e of entries) process.stdout.write(`${JSON.stringify(e)}\n`);
      else {
        for (const e of entries) process.stdout.write(`${formatEntry(e)}\n`);
        const d = await store.depth();
        process.stdout.write(`${entries.length} unit(s) shown; queue: ${d.ready} ready, ${d.active} in delivery, ${d.held} held\n`);
      }
      return 0;
    }
    let changed = 0;
    const now = Date.now();
    const { operatorTrace } = await import('../trace/cli.js');
    const { recordAudit, osOperator } = await import('../audit/log.js');
    const tracer = operatorTrace(ctx);
    for (const e of entries) {
      const ok = action === 'delete' ? await store.finish(e.uid) : await store.control(e.uid, action, now);
      tracer.trace(operatorEvent(e, action, osOperator(), ok));
      if (ok) changed++;
    }
    await tracer.close();
    const what = [
      ...ids,
      ...(flags.recipient ? [`--recipient ${flags.recipient}`] : []),
      ...(flags.hop ? [`--hop ${flags.hop}`] : []),
      ...(flags.all ? ['--all'] : []),
    ].join(' ');
    await recordAudit(ctx.redis, ctx.keys, ctx.config.audit.maxEntries, {
      who: osOperator(),
      action: `queue-${action}`,
      what,
      result: `${changed} of ${entries.length} unit(s) changed`,
    });
    const verb = { hold: 'held', release: 'released', retry: 'due now', delete: 'deleted' }[action];
    if (flags.json) process.stdout.write(`${JSON.stringify({ action, matched: entries.length, changed })}\n`);
    else process.stdout.write(`${changed} of ${entries.length} matching unit(s) ${verb}\n`);
    return 0;
  } finally {
    await ctx.close();
  }
}
