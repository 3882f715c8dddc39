/**
 * Real SMTP peers for the relay tests: sinks (testkit/smtp-sink.ts) that stand in for the
 * on-premises, cloud and next-hop systems, and a real SMTP client as the sender.
 */
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export { startSink, type PeerReply, type Received, type Sink, type SinkOptions } from '../../testkit/smtp-sink.js';
export interface SendOptions {
  readonly port: number;
  readonly from: string;
  readonly to: readonly string[];
  readonly body?: string | Buffer | Readable;
  /** Declared with MAIL FROM SIZE=. */
  readonly size?: number;
  readonly localAddress?: string;
  readonly dsn?: { notify?: string; ret?: string; envid?: string; orcpt?: string };
  readonly requireTls?: boolean;
}

export interface SendResult {
  readonly accepted: string[];
  readonly rejected: { rcpt: string; reply: string }[];
  readonly response: string;
}

export function message(subject: string, extraHeaders = '', body = 'Hello.\r\n'): string {
  return `From: <sender@example.org>\r\nTo: <someone@contoso.edu>\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}.${Date.now()}@example.org>\r\n${extraHeaders}\r\n${body}`;
}

/** Sends one message with a real SMTP client; rejects with the server's reply on failure. */
export async function sendMail(o: SendOptions): Promise<SendResult> {
  const conn = new SMTPConnection({
    host: '127.0.0.1',
    port: o.port,
    name: 'client.example.org',
    ignoreTLS: !o.requireTls,
    requireTLS: o.requireTls ?? false,
    tls: { rejectUnauthorized: false },
    allowInternalNetworkInterfaces: true,
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
  });
  try {
    await new Promise<void>((resolve, reject) => {
      conn.on('error', reject); // stays: a second error after the first must not go unhandled
      conn.connect(() => resolve());
    });
    return await new Promise<SendResult>((resolve, reject) => {
      conn.send(
        { from: o.from === '' ? false : o.from, to: [...o.to], ...(o.dsn ? { dsn: o.dsn } : {}), ...(o.size ? { size: o.size } : {}) },
        o.body ?? message('test'),
        (err, info) => {
          if (err) return reject(err);
          resolve({
            accepted: info.accepted,
            rejected: (info.rejectedErrors ?? []).map((e) => ({
              rcpt: (e as { recipient?: string }).recipient ?? '',
              reply: e.response ?? '',
            })),
            response: info.response,
          });
        },
      );
    });
  } finally {
    conn.close();
  }
}

/**
 * A scripted raw SMTP dialogue: sends each line (CRLF added unless `raw`) after the
 * previous reply and returns every reply. For malformed input the client libraries refuse.
 */
export async function dialogue(
  port: number,
  steps: readonly (string | { raw: Buffer | string })[],
  localAddress?: string,
): Promise<string[]> {
  const socket: Socket = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
  socket.setEncoding('utf8');
  socket.on('error', () => undefined); // a reset shows as '(closed)'
  let buffer = '';
  const replies: string[] = [];
  const pending: ((r: string) => void)[] = [];
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (;;) {
      const m = /^(\d{3}) .*\r\n/m.exec(buffer);
      if (!m) break;
      const end = m.index + m[0].length;
      const reply = buffer.slice(0, end).trimEnd();
      buffer = buffer.slice(end);
      const waiter = pending.shift();
      if (waiter) waiter(reply);
      else replies.push(reply);
    }
  });
  const next = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const queued = replies.shift();
      if (queued !== undefined) return resolve(queued);
      const t = setTimeout(() => reject(new Error(`no reply (buffer: ${buffer})`)), 15_000);
      pending.push((r) => {
        clearTimeout(t);
        resolve(r);
      });
      socket.once('close', () => resolve('(closed)'));
    });
  const out: string[] = [await next()];
  for (const step of steps) {
    if (socket.destroyed) break;
    socket.write(typeof step === 'string' ? `${step}\r\n` : step.raw);
    out.push(await next());
  }
  socket.destroy();
  return out;
}
