/**
 * Sends DSNs back to the envelope sender: built by dsn.ts, routed like any recipient
 * (the sender may be in the directory, or outside), queued as a new message from `<>`.
 * A message from `<>` is never answered with a DSN (no bounce of a bounce).
 */
import type { Logger } from '../log/logger.js';
import type { QueueStore } from '../mailqueue/store.js';
import type { MessageMeta } from '../mailqueue/types.js';
import type { Resolver } from '../resolver/resolver.js';
import { buildDsn, type DsnRecipient } from './dsn.js';

export interface Notifier {
  /** Queues one DSN for these recipients; throws when the sender's route is not known yet (retry later). */
  notify(meta: MessageMeta, original: Buffer, recipients: readonly DsnRecipient[]): Promise<void>;
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
      const { body, messageId } = buildDsn({
        reportingMta: deps.hostname,
        sender: meta.from,
        ...(meta.envid ? { envid: meta.envid } : {}),
        ...(meta.ret ? { ret: meta.ret } : {}),
        arrived: meta.arrived,
        queueId: meta.id,
        recipients,
        original,
        now,
      });
      const dsnMeta: MessageMeta = {
        id,
        from: '',
        arrived: now,
        clientIp: '127.0.0.1',
        helo: deps.hostname,
        size: body.length,
        smtputf8: false,
        eightBit: false,
        dsn: true,
      };
      await deps.store.enqueue(dsnMeta, body, [
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
