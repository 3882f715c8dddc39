/**
 * End of DATA: the one consumer of the message stream, the checks a message must pass
 * (size, line discipline, hop count, our loop marker), the trace header, and durable
 * queueing before the 250. Recipients are split into one delivery unit per next hop.
 */
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { Logger } from '../log/logger.js';
import type { QueueStore } from '../mailqueue/store.js';
import type { MessageMeta, NewUnit, QueuedRecipient } from '../mailqueue/types.js';
import { wants } from '../delivery/outcome.js';
import { queuedReply, relayReplies, renderReply, withDetail, type SmtpReply } from '../routing/replies.js';
import { checkContent, receivedHeader, scanHeaders } from '../message/headers.js';
import { loopedRecipients, MARKER_HEADER } from '../message/loop-marker.js';

/** Reads the whole DATA stream once; resolves undefined when it was over the size limit. */
export function readMessage(stream: SMTPServerDataStream, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error('data timeout')), timeoutMs);
    stream.on('data', (chunk: Buffer) => {
      if (!stream.sizeExceeded) chunks.push(chunk);
    });
    stream.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    stream.once('end', () => {
      clearTimeout(timer);
      resolve(stream.sizeExceeded ? undefined : Buffer.concat(chunks));
    });
  });
}

export interface AcceptDeps {
  readonly store: QueueStore;
  readonly hostname: string;
  readonly maxHops: number;
  readonly hopSecret: string;
  readonly logger: Logger;
  /** How many units this relay's runner can take now, and the hand-over. */
  readonly runner?: { freeSlots(): number; adopt(uids: readonly string[]): void };
  readonly leaseMs: number;
  /** Connectors that rewrite a targetAddress sender to the object's primary address. */
  readonly rewritingHops?: ReadonlySet<string>;
  /** The primary address of the object whose targetAddress is `sender`, if any. */
  readonly senderPrimary?: (sender: string) => Promise<string | undefined>;
}

export type AcceptResult =
  { readonly ok: true; readonly reply: SmtpReply; readonly id: string } | { readonly ok: false; readonly reply: SmtpReply };

export interface Routed extends QueuedRecipient {
  readonly hop: string;
}

/** A unit leaving for non-accepted domains through a rewriting connector: its new sender. */
async function outboundSender(
  deps: AcceptDeps,
  hop: string,
  rcpts: readonly QueuedRecipient[],
  from: string,
): Promise<{ sender?: string }> {
  if (from === '' || !deps.rewritingHops?.has(hop) || !deps.senderPrimary || !rcpts.some((r) => r.reason === 'outbound')) return {};
  try {
    const primary = await deps.senderPrimary(from);
    return primary !== undefined && primary.toLowerCase() !== from.toLowerCase() ? { sender: primary } : {};
  } catch (err) {
    // the directory is unavailable: the message goes out unchanged rather than not at all
    deps.logger.warn({ event: 'SY_SENDER_REWRITE_SKIPPED', from, err: String(err) }, 'sender not rewritten: directory lookup failed');
    return {};
  }
}

/** Checks, stamps and queues one received message for its routed recipients. */
export async function acceptMessage(
  deps: AcceptDeps,
  session: SMTPServerSession,
  raw: Buffer,
  routed: readonly Routed[],
): Promise<AcceptResult> {
  const problem = checkContent(raw);
  if (problem) return { ok: false, reply: relayReplies[problem] };
  const scan = scanHeaders(raw, MARKER_HEADER);
  if (scan.received > deps.maxHops) return { ok: false, reply: withDetail(relayReplies.tooManyHops, `${scan.received} > ${deps.maxHops}`) };
  const looping =
    scan.markers.length > 0
      ? loopedRecipients(
          deps.hopSecret,
          scan.markers,
          routed.map((r) => r.orig),
        )
      : new Set<string>();
  const looped = routed.filter((r) => looping.has(r.orig));
  const live = routed.filter((r) => !looping.has(r.orig));
  if (live.length === 0) return { ok: false, reply: relayReplies.loopMarker };

  const now = new Date();
  const id = deps.store.newId(now.getTime());
  const env = session.envelope;
  const trace = receivedHeader({
    helo: session.hostNameAppearsAs || 'unknown',
    clientHostname: session.clientHostname,
    clientIp: session.remoteAddress,
    by: deps.hostname,
    id,
    tls: session.secure,
    authenticated: Boolean(session.user),
    smtputf8: Boolean(env.smtpUtf8),
    ...(routed.length === 1 && routed[0] ? { recipient: routed[0].orig } : {}),
    at: now,
  });
  const body = Buffer.concat([Buffer.from(trace, 'utf8'), raw]);
  const ret = env.dsn?.ret;
  const meta: MessageMeta = {
    id,
    from: env.mailFrom ? env.mailFrom.address : '',
    ...(env.dsn?.envid ? { envid: env.dsn.envid } : {}),
    ...(ret === 'FULL' || ret === 'HDRS' ? { ret } : {}),
    arrived: now.getTime(),
    clientIp: session.remoteAddress,
    helo: session.hostNameAppearsAs || '',
    size: body.length,
    smtputf8: Boolean(env.smtpUtf8),
    eightBit: env.bodyType === '8bitmime',
  };
  // recipients seen before get a 5.4.6 DSN through the queue (pendingNotice), not a delivery
  const loopNotices: Routed[] = looped
    .filter((r) => wants(r.notify, 'FAILURE'))
    .map((r) => ({
      ...r,
      pendingNotice: {
        orig: r.orig,
        final: r.rcpt,
        ...(r.orcpt ? { orcpt: r.orcpt } : {}),
        action: 'failed',
        status: '5.4.6',
        diagnostic: renderReply(relayReplies.loopMarker),
        lastAttempt: now.getTime(),
      },
    }));
  const byHop = new Map<string, QueuedRecipient[]>();
  for (const { hop, ...r } of [...live, ...loopNotices]) {
    const list = byHop.get(hop) ?? [];
    list.push(r);
    byHop.set(hop, list);
  }
  const units: NewUnit[] = await Promise.all(
    [...byHop].map(async ([hop, rcpts]) => ({ hop, rcpts, ...(await outboundSender(deps, hop, rcpts, meta.from)) })),
  );
  const claim = deps.runner !== undefined && deps.runner.freeSlots() >= units.length;
  try {
    const uids = await deps.store.enqueue(meta, body, units, claim ? { leaseMs: deps.leaseMs } : undefined);
    if (claim) deps.runner?.adopt(uids);
  } catch (err) {
    deps.logger.error({ event: 'SY_QUEUE_WRITE_FAILED', msg_id: id, err: String(err) }, 'message not queued; answered 451');
    return { ok: false, reply: relayReplies.queueFailure };
  }
  deps.logger.info(
    {
      event: 'SY_MESSAGE_QUEUED',
      msg_id: id,
      from: meta.from,
      size: meta.size,
      units: units.map((u) => ({ hop: u.hop, rcpts: u.rcpts.map((r) => r.rcpt) })),
      looped: looped.map((r) => r.orig),
    },
    'message queued',
  );
  return { ok: true, reply: queuedReply(id), id };
}
