/**
 * One SMTP transaction over a raw socket, for fault tests that must know exactly how far
 * it got: whether the final "." was ever written (before it the relay cannot have queued
 * anything) and which reply, if any, ended it. Client libraries report every broken
 * connection alike, whatever the stage.
 */
import { connect } from 'node:net';

export type Stage = 'connect' | 'greeting' | 'EHLO' | 'MAIL' | 'RCPT' | 'DATA' | 'dot';

export interface TransactionResult {
  /** The stage that ended the transaction (`dot`: the reply to the end of DATA). */
  readonly stage: Stage;
  /** The reply that ended it (last line, CRLF removed), or undefined when none came. */
  readonly reply?: string;
  /** The connection error or timeout, when no reply ended it. */
  readonly error?: string;
  /** The final "." was handed to the socket: from here on the relay may have the whole message. */
  readonly dotSent: boolean;
}

export interface Transaction {
  readonly port: number;
  readonly from: string;
  readonly to: readonly string[];
  /** The message, CRLF line ends, no line starting with "." (no dot-stuffing is done). */
  readonly data: string;
  /** How long to wait for each reply (default 30 s, the run goes on as if the connection broke). */
  readonly replyTimeoutMs?: number;
}

/** Runs one transaction; never rejects: every failure is a result. */
export function transact(t: Transaction): Promise<TransactionResult> {
  if (t.to.length === 0) throw new Error('a transaction needs a recipient');
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: t.port });
    socket.setEncoding('utf8');
    let stage: Stage = 'connect';
    let dotSent = false;
    let buffer = '';
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (r: Omit<TransactionResult, 'dotSent' | 'stage'>): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ stage, dotSent, ...r });
    };
    const expect = (next: Stage): void => {
      stage = next;
      clearTimeout(timer);
      timer = setTimeout(() => finish({ error: `no reply within ${t.replyTimeoutMs ?? 30_000} ms` }), t.replyTimeoutMs ?? 30_000);
    };
    const rcpts = [...t.to];
    const send = (line: string, next: Stage): void => {
      expect(next);
      socket.write(`${line}\r\n`);
    };
    const onReply = (reply: string): void => {
      const code = Number(reply.slice(0, 3));
      const ok = stage === 'DATA' ? code === 354 : code >= 200 && code < 300;
      if (!ok || stage === 'dot') return finish({ reply });
      if (stage === 'greeting') return send('EHLO client.example.org', 'EHLO');
      if (stage === 'EHLO') return send(`MAIL FROM:<${t.from}>`, 'MAIL');
      if (stage === 'MAIL' || (stage === 'RCPT' && rcpts.length > 0)) {
        const rcpt = rcpts.shift();
        if (rcpt !== undefined) return send(`RCPT TO:<${rcpt}>`, 'RCPT');
      }
      if (stage === 'RCPT') return send('DATA', 'DATA');
      // stage DATA, 354: the message and its end in one write
      expect('dot');
      dotSent = true;
      socket.write(`${t.data.endsWith('\r\n') ? t.data : `${t.data}\r\n`}.\r\n`);
    };
    socket.on('connect', () => expect('greeting'));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const m = /^(\d{3})([ -])(.*)\r\n/m.exec(buffer);
        if (!m) break;
        buffer = buffer.slice(m.index + m[0].length);
        if (m[2] === ' ') onReply(`${m[1]} ${m[3]}`);
      }
    });
    socket.on('error', (err) => finish({ error: err.message }));
    socket.on('close', () => finish({ error: 'connection closed' }));
  });
}
