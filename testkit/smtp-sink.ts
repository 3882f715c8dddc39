/**
 * A real SMTP next hop for tests and benchmarks (smtp-server): accepts or refuses per
 * recipient, keeps each message (or, for large-message runs, only its header block and
 * body hashes), and can read slowly so that back-pressure reaches the sender.
 */
import { createHash } from 'node:crypto';
import { SMTPServer, type SMTPServerAddress } from 'smtp-server';
import { BodyHasher } from '../src/message/body-hash.js';
import { HeaderBlock } from '../src/message/stream-scan.js';

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
    hideSMTPUTF8: false,
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
