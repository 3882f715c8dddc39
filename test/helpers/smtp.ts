/**
 * Real SMTP peers for the relay tests: sinks (smtp-server) that stand in for the
 * on-premises, cloud and next-hop systems, and a real SMTP client as the sender.
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { BodyHasher } from '../../src/message/body-hash.js';
import { HeaderBlock } from '../../src/message/stream-scan.js';

export interface Received {
  /** The EHLO name of the system that delivered it. */
  readonly helo: string;
  readonly from: string;
  readonly mailArgs: Record<string, string>;
  readonly rcpts: readonly { address: string; args: Record<string, string> }[];
  /** The whole message, or only its header block when the sink keeps hashes (`keep: 'hash'`). */
  readonly data: Buffer;
  readonly text: string;
  /** With `keep: 'hash'`: bytes received, and sha256 (hex) and DKIM relaxed body hash of the body after the header block. */
  readonly size?: number;
  readonly bodySha256?: string;
  readonly bodyRelaxedHash?: string;
}

export type PeerReply = { code: number; message: string } | undefined;

export interface SinkOptions {
  /** Per-recipient reply; undefined accepts. */
  rcptReply?: (address: string) => PeerReply;
  /** Reply to the end of DATA; undefined accepts. */
  dataReply?: (message: Received) => PeerReply;
  dsn?: boolean;
  /** Require AUTH PLAIN/LOGIN with these credentials (over cleartext: a loopback test peer). */
  auth?: { user: string; pass: string };
  /** Wait this long before answering the end of DATA (a slow next hop). */
  delayMs?: number;
  tls?: { key: Buffer; cert: Buffer };
  /** Listen on this port (a next hop that comes back where it was); default a free one. */
  port?: number;
  /** Keep each message whole (default), or only its header block and body hashes (large-message tests). */
  keep?: 'data' | 'hash';
  /** Read DATA at most this fast (a slow next hop; TCP back-pressure reaches the sender). */
  bytesPerSecond?: number;
  /**
   * Answer the end of DATA only once this settles (a next hop that hangs until the test lets
   * it answer). The message counts as received then, even if its sender is gone by then: it
   * had the whole message, as a real MTA that commits before it replies.
   */
  gate?: Promise<void>;
}

export interface Sink {
  readonly port: number;
  readonly messages: Received[];
  /** Transactions whose whole message is in and whose reply waits (on `gate` or `delayMs`). */
  readonly waiting: number;
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

const argsOf = (a: SMTPServerAddress): Record<string, string> =>
  a.args ? Object.fromEntries(Object.entries(a.args).map(([k, v]) => [k, String(v)])) : {};

function replyError(r: NonNullable<PeerReply>): Error {
  return Object.assign(new Error(r.message), { responseCode: r.code });
}

export async function startSink(opts: SinkOptions = {}): Promise<Sink> {
  const messages: Received[] = [];
  const waiters: (() => void)[] = [];
  let waiting = 0;
  const server = new SMTPServer({
    logger: false,
    authOptional: opts.auth === undefined,
    allowInsecureAuth: true,
    disabledCommands: opts.auth ? [] : ['AUTH'],
    onAuth(auth, _session, cb) {
      const ok = auth.username === opts.auth?.user && auth.password === opts.auth?.pass;
      cb(ok ? null : Object.assign(new Error('5.7.8 bad credentials'), { responseCode: 535 }), ok ? { user: auth.username } : undefined);
    },
    hideSTARTTLS: opts.tls === undefined,
    ...(opts.tls ?? {}),
    hideDSN: opts.dsn === false,
    hideENHANCEDSTATUSCODES: false,
    disableReverseLookup: true,
    size: 50 * 1024 * 1024,
    onRcptTo(address, _session, cb) {
      const r = opts.rcptReply?.(address.address);
      cb(r ? replyError(r) : undefined);
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      const hashing = opts.keep === 'hash';
      const header = new HeaderBlock(64 * 1024);
      const sha = createHash('sha256');
      const relaxed = new BodyHasher();
      let size = 0;
      stream.on('data', (c: Buffer) => {
        size += c.length;
        if (!hashing) chunks.push(c);
        else {
          const inHeader = header.update(c);
          if (inHeader < c.length) {
            sha.update(c.subarray(inHeader));
            relaxed.update(c.subarray(inHeader));
          }
        }
        if (opts.bytesPerSecond) {
          stream.pause();
          setTimeout(() => stream.resume(), (c.length / opts.bytesPerSecond) * 1000);
        }
      });
      stream.on('end', () => {
        void (async () => {
          const data = hashing ? header.head : Buffer.concat(chunks);
          const env = session.envelope;
          const msg: Received = {
            helo: session.hostNameAppearsAs,
            from: env.mailFrom ? env.mailFrom.address : '',
            mailArgs: env.mailFrom ? argsOf(env.mailFrom) : {},
            rcpts: env.rcptTo.map((a) => ({ address: a.address, args: argsOf(a) })),
            data,
            text: data.toString('utf8'),
            ...(hashing ? { size, bodySha256: sha.digest('hex'), bodyRelaxedHash: await relaxed.digest() } : {}),
          };
          const finish = (): void => {
            const r = opts.dataReply?.(msg);
            if (r) return cb(replyError(r));
            messages.push(msg);
            for (const w of waiters.splice(0)) w();
            cb(null, 'OK: sunk');
          };
          waiting++;
          const answer = (): void => {
            waiting--;
            finish();
          };
          await opts.gate;
          if (opts.delayMs) setTimeout(answer, opts.delayMs);
          else answer();
        })();
      });
    },
  });
  // a sender that dies mid-session (a relay killed by a fault test) resets its connection
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as { port: number }).port;
  return {
    port,
    messages,
    get waiting() {
      return waiting;
    },
    async waitFor(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (messages.length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`sink :${port} has ${messages.length} of ${count} messages after ${timeoutMs} ms`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.min(left, 200));
          waiters.push(() => {
            clearTimeout(t);
            r();
          });
        });
      }
      return messages;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

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
