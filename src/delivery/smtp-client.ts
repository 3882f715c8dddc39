/**
 * One SMTP client connection to a next hop (nodemailer's SMTPConnection), promisified,
 * with per-recipient RFC 3461 parameters (nodemailer sends the same NOTIFY/ORCPT for every
 * recipient of an envelope, so this connection renders them per recipient instead) and
 * SMTPUTF8 passed on when the client used it. The nodemailer internals this takes are
 * checked at start-up (nodemailer-internals.ts).
 */
import type { Readable } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { assertNodemailerInternals, installDotStuffing, internals } from './nodemailer-internals.js';

export interface TxRecipient {
  readonly address: string;
  readonly notify?: readonly string[];
  /** `type;address`, not yet xtext-encoded. */
  readonly orcpt?: string;
}

export interface Transaction {
  /** '' for the null sender. */
  readonly from: string;
  readonly rcpts: readonly TxRecipient[];
  readonly ret?: string;
  readonly envid?: string;
  readonly size: number;
  readonly eightBit: boolean;
  /** The client used SMTPUTF8: ask the next hop for it too (it must offer it). */
  readonly smtputf8?: boolean;
}

export interface TxResult {
  readonly accepted: readonly string[];
  readonly rejected: readonly { rcpt: string; reply: string; code: number }[];
  /** The final reply to DATA. */
  readonly response: string;
  /** The next hop offered DSN, so NOTIFY went on with the message. */
  readonly dsn: boolean;
}

/** A failure of the whole transaction (connect, TLS, MAIL, every RCPT, DATA). */
export class TransactionError extends Error {
  constructor(
    message: string,
    readonly code: number | undefined,
    readonly reply: string | undefined,
    /** Nothing of the message reached the server: safe to try another connection at once. */
    readonly beforeData: boolean,
    /** Failed while connecting (connection, greeting, EHLO, STARTTLS, AUTH): another smart host may do better. */
    readonly atConnect = false,
  ) {
    super(message);
    this.name = 'TransactionError';
  }

  get permanent(): boolean {
    return this.code !== undefined && this.code >= 500;
  }
}

export interface ConnectOptions {
  readonly host: string;
  readonly port: number;
  readonly name: string;
  readonly tls: 'none' | 'opportunistic' | 'required';
  readonly ca?: Buffer;
  readonly auth?: { user: string; pass: string };
  readonly timeoutMs: number;
}

/** RFC 3461 xtext. */
export function xtext(value: string): string {
  return value.replace(/[^\x21-\x2a\x2c-\x3c\x3e-\x7e]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `+${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

function tlsOptions(o: ConnectOptions): Partial<ConstructorParameters<typeof SMTPConnection>[0]> {
  const implicit = o.port === 465;
  if (o.tls === 'none') return { ignoreTLS: true, secure: false };
  if (o.tls === 'required') {
    const tls: ConnectionOptions = { rejectUnauthorized: true, ...(o.ca ? { ca: o.ca } : {}) };
    return { secure: implicit, requireTLS: !implicit, tls };
  }
  // opportunistic (RFC 7435): encrypt when offered; verify only against a configured CA
  const tls: ConnectionOptions = o.ca ? { rejectUnauthorized: true, ca: o.ca } : { rejectUnauthorized: false };
  return { secure: implicit, opportunisticTLS: true, tls };
}

let checked: true | undefined;

export class SmtpClient {
  messages = 0;
  private closed = false;

  private constructor(
    private readonly conn: SMTPConnection,
    readonly target: string,
  ) {
    conn.on('error', () => {
      this.closed = true;
    });
    conn.on('end', () => {
      this.closed = true;
    });
  }

  get usable(): boolean {
    return !this.closed;
  }

  static async open(o: ConnectOptions): Promise<SmtpClient> {
    checked ??= (assertNodemailerInternals(), installDotStuffing(), true);
    const conn = new SMTPConnection({
      host: o.host,
      port: o.port,
      name: o.name,
      connectionTimeout: o.timeoutMs,
      greetingTimeout: o.timeoutMs,
      socketTimeout: o.timeoutMs * 4,
      allowInternalNetworkInterfaces: true,
      ...tlsOptions(o),
    });
    const client = new SmtpClient(conn, `${o.host}:${o.port}`);
    const inner = internals(conn);
    // NOTIFY/ORCPT of the recipient whose RCPT TO is being written (it was queued just before)
    inner._getDsnRcptToArgs = () => {
      const address = inner._recipientQueue[inner._recipientQueue.length - 1] ?? '';
      return client.rcptArgs(address, inner._supportedExtensions.includes('DSN'));
    };
    // SMTPUTF8 on MAIL FROM when the client used it, even with ASCII addresses (RFC 6531 §3.4)
    const sendCommand = inner._sendCommand.bind(conn);
    inner._sendCommand = (str: string, logStr?: string) => {
      const utf8 =
        client.smtputf8 && /^MAIL FROM:/i.test(str) && !/ SMTPUTF8\b/i.test(str) && inner._supportedExtensions.includes('SMTPUTF8');
      sendCommand(utf8 ? `${str} SMTPUTF8` : str, logStr);
    };
    await new Promise<void>((resolve, reject) => {
      conn.once('error', (err: Error & { responseCode?: number; response?: string }) =>
        reject(new TransactionError(err.message, err.responseCode, err.response, true, true)),
      );
      conn.connect(() => resolve());
    });
    if (o.auth) {
      await new Promise<void>((resolve, reject) => {
        conn.login(o.auth ?? { user: '', pass: '' }, (err) =>
          err ? reject(new TransactionError(err.message, err.responseCode, err.response, true, true)) : resolve(),
        );
      });
    }
    return client;
  }

  private current: Map<string, TxRecipient> = new Map();
  private smtputf8 = false;

  private rcptArgs(address: string, dsn: boolean): string {
    const r = this.current.get(address);
    if (!dsn || r === undefined) return '';
    const args: string[] = [];
    if (r.notify && r.notify.length > 0) args.push(`NOTIFY=${r.notify.join(',')}`);
    if (r.orcpt) {
      const semi = r.orcpt.indexOf(';');
      args.push(`ORCPT=${r.orcpt.slice(0, semi)};${xtext(r.orcpt.slice(semi + 1))}`);
    }
    return args.length ? ` ${args.join(' ')}` : '';
  }

  send(tx: Transaction, message: Buffer | Readable): Promise<TxResult> {
    this.current = new Map(tx.rcpts.map((r) => [r.address, r]));
    this.smtputf8 = tx.smtputf8 === true;
    const dsn = { ...(tx.ret ? { ret: tx.ret } : {}), ...(tx.envid ? { envid: tx.envid } : {}) };
    const envelope = {
      from: tx.from === '' ? false : tx.from,
      to: tx.rcpts.map((r) => r.address),
      size: tx.size,
      use8BitMime: tx.eightBit,
      ...(tx.ret || tx.envid ? { dsn } : {}),
    } as const;
    const reused = this.messages > 0;
    return new Promise<TxResult>((resolve, reject) => {
      this.conn.send(envelope, message, (err, info) => {
        this.messages++;
        if (!err) {
          const supported = internals(this.conn)._supportedExtensions;
          resolve({
            accepted: info.accepted,
            rejected: rejectedList(info.rejectedErrors ?? []),
            response: info.response,
            dsn: supported.includes('DSN'),
          });
          return;
        }
        const e = err as SendError;
        const before = e.code === 'EENVELOPE' || (reused && e.code === 'ECONNECTION');
        const settle = (): void => {
          if (e.code === 'EENVELOPE' && e.command === 'RCPT TO' && e.rejectedErrors && e.rejectedErrors.length > 0) {
            // every recipient refused: report them one by one
            resolve({ accepted: [], rejected: rejectedList(e.rejectedErrors), response: e.response ?? '', dsn: false });
          } else reject(new TransactionError(e.message, e.responseCode, e.response, before));
        };
        // the server refused this message but the session is fine: RSET, and only hand the
        // connection back once the RSET is answered (a pipelined reply must not meet the next message)
        if ((e.code === 'EENVELOPE' || e.code === 'EMESSAGE') && this.usable) this.resetThen(settle);
        else {
          this.closed = true;
          settle();
        }
      });
    });
  }

  private resetThen(done: () => void): void {
    try {
      this.conn.reset((err) => {
        if (err) this.close();
        done();
      });
    } catch {
      this.close();
      done();
    }
  }

  close(): void {
    this.closed = true;
    try {
      this.conn.quit();
    } catch {
      this.conn.close();
    }
  }
}

type SendError = Error & {
  responseCode?: number;
  response?: string;
  code?: string;
  command?: string;
  rejectedErrors?: { recipient?: string; response?: string; responseCode?: number }[];
};

function rejectedList(errors: readonly { recipient?: string; response?: string; responseCode?: number }[]): TxResult['rejected'] {
  return errors.map((e) => ({ rcpt: e.recipient ?? '', reply: e.response ?? '', code: e.responseCode ?? 450 }));
}
