/**
 * DATA: the message streamed into the queue (ingest.ts), the checks it must pass (size,
 * line discipline, hop count, our loop marker, the queue budget), the trace header, and
 * acceptance — pending, durable, committed — before the 250 (SPEC §5: a 4xx after DATA
 * means not queued, a 250 means queued, never both). Recipients are split into one
 * delivery unit per next hop.
 */
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { Logger } from '../log/logger.js';
import type { QueueStore } from '../mailqueue/store.js';
import { acceptedUnits, type LoadedUnit } from '../mailqueue/acceptance.js';
import type { MessageMeta, NewUnit, QueuedRecipient } from '../mailqueue/types.js';
import { wants } from '../delivery/outcome.js';
import { fromAddresses } from '../delivery/outbound.js';
import { queuedReply, relayReplies, renderReply, withDetail, type SmtpReply } from '../routing/replies.js';
import { receivedHeader, scanHeaders } from '../message/headers.js';
import { MARKER_HEADER, type HopMarker } from '../message/loop-marker.js';
import { ingest } from './ingest.js';

export interface AcceptDeps {
  readonly store: QueueStore;
  readonly hostname: string;
  readonly maxHops: number;
  readonly hopMarker: HopMarker;
  readonly logger: Logger;
  /** How many units this relay's runner can take now, and the hand-over. */
  readonly runner?: { freeSlots(): number; adopt(uids: readonly string[], loaded?: readonly LoadedUnit[]): void; queued(): void };
  readonly leaseMs: number;
  /** Connectors that rewrite a targetAddress sender to the object's primary address. */
  readonly rewritingHops?: ReadonlySet<string>;
  /** The primary address of the object whose targetAddress is `sender`, if any. */
  readonly senderPrimary?: (sender: string) => Promise<string | undefined>;
  /** relay.queueBudget in bytes, per queue shard (0: none). */
  readonly queueBudget: number;
  /** A connector signs with DKIM: hash the body while it streams in. */
  readonly bodyHash: boolean;
}

/** One transaction's place in the queue, taken at MAIL: its message id and the bytes reserved. */
export interface Transaction {
  readonly id: string;
  readonly reserved: number;
}

export type AcceptResult =
  | {
      readonly ok: true;
      readonly reply: SmtpReply;
      readonly id: string;
      /** The start of the sender's header block and the stored size (for message trace). */
      readonly head: Buffer;
      readonly size: number;
    }
  | { readonly ok: false; readonly reply: SmtpReply };

export interface Routed extends QueuedRecipient {
  readonly hop: string;
}

/**
 * A unit leaving for non-accepted domains through a rewriting connector (SPEC §5): its new
 * envelope sender when that is an object's targetAddress, and the From: rewrite — of the
 * envelope sender's address in From:, or of a From: address that is itself a targetAddress.
 */
async function outboundSender(
  deps: AcceptDeps,
  hop: string,
  rcpts: readonly QueuedRecipient[],
  from: string,
  head: Buffer,
): Promise<Pick<NewUnit, 'sender' | 'headerRewrite'>> {
  const lookup = deps.senderPrimary;
  if (!deps.rewritingHops?.has(hop) || !lookup || !rcpts.some((r) => r.reason === 'outbound')) return {};
  const primaryOf = async (address: string): Promise<string | undefined> => {
    const primary = await lookup(address);
    return primary !== undefined && primary.toLowerCase() !== address.toLowerCase() ? primary : undefined;
  };
  try {
    const sender = from === '' ? undefined : await primaryOf(from);
    const other = fromAddresses(head).find((a) => a.toLowerCase() !== from.toLowerCase());
    const headerTo = other === undefined ? undefined : await primaryOf(other);
    return {
      ...(sender !== undefined ? { sender } : {}),
      ...(other !== undefined && headerTo !== undefined ? { headerRewrite: { from: other, to: headerTo } } : {}),
    };
  } catch (err) {
    // the directory is unavailable: the message goes out unchanged rather than not at all
    deps.logger.warn({ event: 'SY_SENDER_REWRITE_SKIPPED', from, err: String(err) }, 'sender not rewritten: directory lookup failed');
    return {};
  }
}

/** Streams, checks, stamps and queues one message for its routed recipients. */
export async function receiveMessage(
  deps: AcceptDeps,
  session: SMTPServerSession,
  stream: SMTPServerDataStream,
  txn: Transaction,
  routed: readonly Routed[],
  idle?: { ms: number; onIdle: () => void },
): Promise<AcceptResult> {
  const now = new Date();
  const { id } = txn;
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
  const data = await ingest(stream, {
    prefix: Buffer.from(trace, 'utf8'),
    sink: () => deps.store.sink(id),
    hash: deps.bodyHash,
    reserved: txn.reserved,
    grow: async (bytes) => deps.queueBudget <= 0 || (await deps.store.reserve(id, bytes, deps.queueBudget)).granted,
    ...(idle ? { idleMs: idle.ms, onIdle: idle.onIdle } : {}),
  });
  const refuse = async (reply: SmtpReply): Promise<AcceptResult> => {
    await deps.store.abandon(id).catch(() => undefined); // its chunks also expire on their own
    return { ok: false, reply };
  };
  if (data.tooBig) return refuse(relayReplies.tooBig);
  if (data.problem) return refuse(relayReplies[data.problem]);
  if (data.writeError !== undefined) {
    deps.logger.error(
      {
        event: 'SY_QUEUE_WRITE_FAILED',
        msg_id: id,
        err: data.writeError instanceof Error ? data.writeError.message : JSON.stringify(data.writeError),
      },
      'message not queued; answered 451',
    );
    return refuse(relayReplies.queueFailure);
  }
  if (data.overReserved) {
    deps.logger.warn(
      { event: 'SY_QUEUE_BUDGET', msg_id: id, reserved: txn.reserved, size: data.size },
      'message larger than its SIZE; 452',
    );
    return refuse(relayReplies.queueBudget);
  }
  const scan = scanHeaders(data.head, MARKER_HEADER);
  if (scan.received > deps.maxHops) return refuse(withDetail(relayReplies.tooManyHops, `${scan.received} > ${deps.maxHops}`));
  const looping =
    scan.markers.length > 0
      ? deps.hopMarker.looped(
          scan.markers,
          routed.map((r) => r.orig),
        )
      : new Set<string>();
  const looped = routed.filter((r) => looping.has(r.orig));
  const live = routed.filter((r) => !looping.has(r.orig));
  if (live.length === 0) return refuse(relayReplies.loopMarker);

  const ret = env.dsn?.ret;
  const meta: MessageMeta = {
    id,
    from: env.mailFrom ? env.mailFrom.address : '',
    ...(env.dsn?.envid ? { envid: env.dsn.envid } : {}),
    ...(ret === 'FULL' || ret === 'HDRS' ? { ret } : {}),
    arrived: now.getTime(),
    clientIp: session.remoteAddress,
    helo: session.hostNameAppearsAs || '',
    size: data.size,
    smtputf8: Boolean(env.smtpUtf8),
    eightBit: env.bodyType === '8bitmime',
    headerBytes: data.headerBytes,
    ...(data.bodyHash !== undefined ? { bodyHash: data.bodyHash } : {}),
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
    [...byHop].map(async ([hop, rcpts]) => ({ hop, rcpts, ...(await outboundSender(deps, hop, rcpts, meta.from, data.head)) })),
  );
  const claim = deps.runner !== undefined && deps.runner.freeSlots() >= units.length;
  const input = { meta, units, chunks: data.chunks, ...(data.onlyChunk ? { onlyChunk: data.onlyChunk } : {}) };
  const outcome = await deps.store.accept(input, { budget: deps.queueBudget, ...(claim ? { claim: { leaseMs: deps.leaseMs } } : {}) });
  if (!outcome.ok) {
    const event = outcome.why === 'over-budget' ? 'SY_QUEUE_BUDGET' : 'SY_QUEUE_WRITE_FAILED';
    deps.logger.error({ event, msg_id: id, why: outcome.why, err: outcome.detail }, 'message not queued; answered 4xx');
    const reply =
      outcome.why === 'over-budget'
        ? relayReplies.queueBudget
        : outcome.why === 'not-durable'
          ? relayReplies.notReplicated
          : relayReplies.queueFailure;
    return refuse(reply);
  }
  if (claim) deps.runner?.adopt(outcome.uids, acceptedUnits(input, outcome.uids));
  else deps.runner?.queued();
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
  return { ok: true, reply: queuedReply(id), id, head: data.head, size: data.size };
}
