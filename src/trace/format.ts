/** A timeline as text for a terminal (`switchyard trace`), one line per event. */
import type { StoredEvent } from './record.js';
import type { Timeline } from './search.js';

const iso = (ms: number): string => new Date(ms).toISOString();

function line(e: StoredEvent): string {
  switch (e.kind) {
    case 'rcpt': {
      const to = e.recipient !== undefined ? ` → ${e.recipient}` : '';
      const verdict =
        e.action === 'route' ? `routed to ${e.hop ?? '?'}${to}` : `${e.action === 'defer' ? 'deferred' : 'refused'}: ${e.reply}`;
      return `rcpt      <${e.rcpt}> ${verdict} (${e.reason})`;
    }
    case 'received': {
      const tls = e.tls ? 'TLS' : 'no TLS';
      const auth = e.user !== undefined ? `, auth ${e.user}` : '';
      const mid = e.messageId !== undefined ? `, Message-ID <${e.messageId}>` : '';
      const to = e.rcpts.map((r) => `${r.rcpt}${r.rcpt !== r.orig ? ` (for ${r.orig})` : ''} via ${r.hop}`).join(', ');
      return `received  from <${e.from}> client ${e.client} helo ${e.helo || '-'} (${tls}${auth}), ${e.size} bytes${mid}; to ${to}`;
    }
    case 'session-end':
      return `session   closed without a message (client ${e.client}, helo ${e.helo || '-'})`;
    case 'attempt':
      return e.results
        .map((r) => `${r.outcome.padEnd(9)} <${r.rcpt}> hop ${e.hop}${r.host ? ` host ${r.host}` : ''} attempt ${e.attempt}: ${r.reply}`)
        .join('\n  ' + ' '.repeat(24) + '  ');
    case 'retry':
      return `queued    ${e.rcpts.map((r) => `<${r}>`).join(', ')} hop ${e.hop}: next retry ${iso(e.due)}`;
    case 'dsn':
      return `dsn       ${e.action} notice to the sender for ${e.rcpts.map((r) => `<${r}>`).join(', ')}`;
    case 'operator':
      return `operator  ${e.who} queue ${e.action} ${e.uid}: ${e.ok ? 'done' : 'nothing to do'}`;
  }
}

export function formatTimeline(t: Timeline): string {
  const head = t.id.startsWith('S') ? `session ${t.id} (no message accepted)` : `message ${t.id}`;
  return [head, ...t.events.map((e) => `  ${iso(e.at)}  ${line(e)}`)].join('\n');
}
