/** How trace events are stored, and the status page's counters they feed (pure logic). */
import { describe, expect, it } from 'vitest';
import type { TraceEvent } from '../../src/log/observer.js';
import { storedEvent } from '../../src/trace/record.js';
import { countsOf } from '../../src/trace/stats.js';

const at = Date.UTC(2026, 11, 2, 5, 7, 30);
const received: TraceEvent = {
  kind: 'received',
  at,
  session: 's1',
  id: 'M1Q00',
  from: 'a@b.c',
  client: '127.0.0.1',
  helo: 'h',
  tls: false,
  size: 10,
  rcpts: [
    { orig: 'x@contoso.edu', rcpt: 'x@contoso.edu', hop: 'onprem' },
    { orig: 'y@contoso.edu', rcpt: 'y@live.contoso.edu', hop: 'cloud' },
    { orig: 'z@contoso.edu', rcpt: 'z@contoso.edu', hop: 'onprem' },
  ],
};
const rcpt: TraceEvent = { kind: 'rcpt', at, session: 's1', rcpt: 'q@contoso.edu', action: 'reject', reason: 'unknown', reply: '550' };

describe('stored trace events', () => {
  it('leave out what the key says: the id always, the session except on the message it belongs to', () => {
    const r = storedEvent(received) as Record<string, unknown>;
    expect(r).not.toHaveProperty('id');
    expect(r.session).toBe('s1');
    expect(JSON.parse(JSON.stringify(r))).toEqual({ ...received, id: undefined, session: 's1' });
    const q = storedEvent(rcpt) as Record<string, unknown>;
    expect(q).not.toHaveProperty('session');
    expect(q).not.toHaveProperty('id');
    expect(q).toEqual({ kind: 'rcpt', at, rcpt: 'q@contoso.edu', action: 'reject', reason: 'unknown', reply: '550' });
    // the event itself is left as it was
    expect(received).toHaveProperty('id', 'M1Q00');
    expect(rcpt).toHaveProperty('session', 's1');
  });

  it('count one accepted message per next hop and one outcome per attempted recipient, in the hour and minute of the event', () => {
    const hour = Math.floor(at / 3_600_000);
    expect(countsOf(received)).toEqual([
      [hour, '7|onprem|accepted'],
      [hour, '7|cloud|accepted'],
    ]);
    const attempt: TraceEvent = {
      kind: 'attempt',
      at,
      id: 'M1Q00',
      uid: 'M1Q00.0',
      hop: 'cloud',
      attempt: 1,
      results: [
        { rcpt: 'y@live.contoso.edu', outcome: 'delivered', reply: '250 ok' },
        { rcpt: 'w@live.contoso.edu', outcome: 'deferred', reply: '451 later' },
      ],
    };
    expect(countsOf(attempt)).toEqual([
      [hour, '7|cloud|delivered'],
      [hour, '7|cloud|deferred'],
    ]);
    expect(countsOf(rcpt)).toEqual([]);
  });
});
