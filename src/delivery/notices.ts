/**
 * Sends DSNs back to the envelope sender: built by dsn.ts, routed like any recipient
 * (the sender may be in the directory, or outside), queued as a new message from `<>`.
 * A message from `<>` is never answered with a DSN (no bounce of a bounce).
 */
import type { Logger } from '../log/logger.js';
import type { QueueStore } from '../mailqueue/store.js';
import type { MessageMeta } from '../mailqueue/types.js';
import type { Resolver } from '../resolver/resolver.js';
import { splitAt } from '../mailqueue/body.js';
import { dsnParts, type DsnParts, type DsnRecipient } from './dsn.js';
import { headerBytesOf, type Original } from './compose.js';

export interface Notifier {
  /** Queues one DSN for these recipients; throws when the sender's route is not known yet (retry later). */
  notify(meta: MessageMeta, original: Original, recipients: readonly DsnRecipient[]): Promise<void>;
}

export class NoticeDeferred extends Error {
  readonly code = 'SY_DSN_DEFERRED';
}

export function createNotifier(deps: { resolver: Resolver; store: QueueStore; hostname: string; logger: Logger }): Notifier {
  return {
    async notify(meta, original, recipients) {
      if (recipients.length === 0) return;
      const log = deps.logger.child({ msg_id: meta.id });
      if (meta.from === '' || meta.dsn) {
        log.warn(
          { event: 'SY_DSN_SUPPRESSED', action: recipients[0]?.action, recipients: recipients.map((r) => r.final) },
          'no DSN for a message from <>',
        );
        return;
      }
      const [decision] = await deps.resolver.resolve([meta.from], true);
      if (decision === undefined || decision.action === 'defer')
        throw new NoticeDeferred(`route of the sender ${meta.from} unknown: ${decision?.smtp ?? 'no decision'}`);
      if (decision.action === 'reject' || decision.connector === undefined) {
        log.warn({ event: 'SY_DSN_UNROUTABLE', sender: meta.from, reply: decision.smtp }, 'DSN dropped: the sender cannot receive mail');
        return;
      }
      const now = Date.now();
      const id = deps.store.newId(now);
      const parts = dsnParts({
        reportingMta: deps.hostname,
        sender: meta.from,
        ...(meta.envid ? { envid: meta.envid } : {}),
        ...(meta.ret ? { ret: meta.ret } : {}),
        arrived: meta.arrived,
        queueId: meta.id,
        recipients,
        now,
      });
      const { messageId } = parts;
      const returned = parts.returnFull ? original.size : headerBytesOf(original);
      const size = Buffer.byteLength(parts.head) + returned + Buffer.byteLength(parts.tail(false));
      const dsnMeta: MessageMeta = {
        id,
        from: '',
        arrived: now,
        clientIp: '127.0.0.1',
        helo: deps.hostname,
        size,
        smtputf8: false,
        eightBit: false,
        dsn: true,
      };
      await deps.store.enqueue(dsnMeta, dsnContent(parts, original), [
        {
          hop: decision.connector,
          rcpts: [{ rcpt: decision.recipient ?? meta.from, orig: meta.from, reason: decision.reason, notify: ['NEVER'] }],
        },
      ]);
      log.info(
        {
          event: 'SY_DSN_QUEUED',
          dsn_id: id,
          dsn_message_id: messageId,
          action: recipients[0]?.action,
          recipients: recipients.map((r) => r.final),
        },
        'DSN queued',
      );
    },
  };
}

/** The DSN's bytes, streamed: its head, the original (whole, or its header block), its tail. */
async function* dsnContent(parts: DsnParts, original: Original): AsyncGenerator<Buffer> {
  yield Buffer.from(parts.head, 'utf8');
  let last = -1;
  const stream = original.open();
  try {
    const content = parts.returnFull ? stream : (await splitAt(stream, headerBytesOf(original))).head;
    for await (const chunk of Buffer.isBuffer(content) ? [content] : (content as AsyncIterable<Buffer>)) {
      if (chunk.length > 0) last = chunk[chunk.length - 1] ?? last;
      yield chunk;
    }
  } finally {
    stream.destroy();
  }
  yield Buffer.from(parts.tail(last === -1 || last === 0x0a), 'utf8');
}
