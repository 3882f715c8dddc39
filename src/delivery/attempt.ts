/**
 * One delivery attempt of a unit: the message composed with its header stages (loop marker,
 * From: rewrite, DKIM) and sent as one SMTP transaction through the connector's pool, each
 * recipient's outcome read from the reply; and the attempt's log lines.
 */
import type { Logger } from '../log/logger.js';
import type { MessageMeta, QueuedRecipient, UnitRecord } from '../mailqueue/types.js';
import { composeMessage, type Original } from './compose.js';
import { statusFromReply } from './dsn.js';
import type { Outcome } from './outcome.js';
import type { RunnerDeps } from './runner.js';
import { TransactionError, type TxResult } from './smtp-client.js';

export type AttemptDeps = Pick<RunnerDeps, 'connectors' | 'hopMarker' | 'signers' | 'pool'>;

export async function attemptDelivery(
  deps: AttemptDeps,
  log: Logger,
  unit: UnitRecord,
  meta: MessageMeta,
  original: Original,
  rcpts: readonly QueuedRecipient[],
): Promise<Outcome[]> {
  const connector = deps.connectors.get(unit.hop);
  if (connector === undefined) {
    return rcpts.map((rcpt) => ({ kind: 'deferred', rcpt, reply: `451 4.3.5 No connector named "${unit.hop}" in the configuration` }));
  }
  const marker = deps.hopMarker.header(rcpts.map((r) => r.rcpt));
  const compose = () =>
    composeMessage(original, {
      marker,
      ...(unit.headerRewrite !== undefined
        ? { rewrite: unit.headerRewrite }
        : unit.sender !== undefined
          ? { rewrite: { from: meta.from, to: unit.sender } }
          : {}),
      ...(deps.signers?.get(unit.hop) ? { signer: deps.signers.get(unit.hop) } : {}),
      ...(meta.bodyHash !== undefined ? { bodyHash: meta.bodyHash } : {}),
      onSkip: (why) => log.warn({ event: 'SY_HEADER_STAGE_SKIPPED', msg_id: meta.id, uid: unit.uid, why }, 'message sent unchanged'),
    });
  const tx = {
    from: unit.sender ?? meta.from,
    rcpts: rcpts.map((r) => ({
      address: r.rcpt,
      ...(r.notify ? { notify: r.notify } : {}),
      // a rewritten recipient keeps the address the sender used (RFC 3461 ORCPT)
      ...(r.orcpt ? { orcpt: r.orcpt } : r.rcpt !== r.orig ? { orcpt: `rfc822;${r.orig}` } : {}),
    })),
    ...(meta.ret ? { ret: meta.ret } : {}),
    ...(meta.envid ? { envid: meta.envid } : {}),
    eightBit: meta.eightBit,
    smtputf8: meta.smtputf8,
  };
  let result: TxResult;
  let host: string;
  try {
    ({ result, host } = await deps.pool.use(connector, async (client) => {
      // composed per attempt: a retry on another connection or smart host reads the message afresh
      const message = await compose();
      try {
        return { result: await client.send({ ...tx, size: message.size }, message.body), host: client.target };
      } finally {
        if (!Buffer.isBuffer(message.body)) message.body.destroy();
      }
    }));
  } catch (err) {
    const e = err instanceof TransactionError ? err : undefined;
    const reply = e?.reply?.trim() || `451 4.4.1 ${err instanceof Error ? err.message : String(err)}`;
    // a smart host that refused the connection itself says nothing about this message: retry later
    if (e?.permanent && !e.atConnect)
      return rcpts.map((rcpt) => ({ kind: 'failed', rcpt, reply, status: statusFromReply(reply, '5.0.0') }));
    return rcpts.map((rcpt) => ({ kind: 'deferred', rcpt, reply }));
  }
  const accepted = new Set(result.accepted);
  const rejected = new Map(result.rejected.map((r) => [r.rcpt, r]));
  return rcpts.map((rcpt): Outcome => {
    if (accepted.has(rcpt.rcpt)) return { kind: 'delivered', rcpt, reply: result.response, host, dsnPassed: result.dsn };
    const r = rejected.get(rcpt.rcpt);
    const reply = r?.reply ?? '451 4.4.0 No reply for this recipient';
    if (r && r.code >= 500) return { kind: 'failed', rcpt, reply, status: statusFromReply(reply, '5.0.0'), host };
    return { kind: 'deferred', rcpt, reply, host };
  });
}

/** One log line per outcome of an attempt, with its recipients (each one's reply is in the message trace). */
export function logAttempt(log: Logger, meta: MessageMeta, unit: UnitRecord, outcomes: readonly Outcome[], attempts: number): void {
  for (const kind of ['delivered', 'deferred', 'failed'] as const) {
    const these = outcomes.filter((o) => o.kind === kind);
    const first = these[0];
    if (first === undefined) continue;
    const fields = {
      event: kind === 'delivered' ? 'SY_DELIVERED' : kind === 'failed' ? 'SY_BOUNCED' : 'SY_DEFERRED',
      msg_id: meta.id,
      uid: unit.uid,
      hop: unit.hop,
      host: first.host,
      rcpts: these.map((o) => o.rcpt.rcpt),
      reply: first.reply,
      ...(these.some((o) => o.reply !== first.reply) ? { replies: these.map((o) => o.reply) } : {}),
      attempt: attempts,
    };
    if (kind === 'failed') log.warn(fields, 'bounced');
    else log.info(fields, kind);
  }
}
