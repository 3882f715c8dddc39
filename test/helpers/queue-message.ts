/** The meta of a small plain message (5 bytes, ASCII) for tests that queue one directly. */
import type { MessageMeta } from '../../src/mailqueue/types.js';

export function plainMeta(id: string): MessageMeta {
  return {
    id,
    from: 'sender@example.org',
    arrived: Date.now(),
    clientIp: '127.0.0.1',
    helo: 'c',
    size: 5,
    smtputf8: false,
    eightBit: false,
  };
}
