/**
 * A bare SMTP dialogue for mail-flow checks (SPEC §11): greeting, EHLO, STARTTLS with the
 * certificate verdict, AUTH PLAIN, and callouts (`MAIL FROM:<>`, `RCPT TO`, `RSET`; DATA
 * only for the `--send` probes). Line-level so each step's reply is what the report shows.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface Reply {
  readonly code: number;
  /** Every line, joined with newlines, codes included. */
  readonly text: string;
}

export const firstLine = (r: Reply): string => r.text.split('\n')[0] ?? '';

export class ProbeError extends Error {
  readonly code = 'SY_MAILFLOW_PROBE';
}

export class SmtpProbe {
  private buffer = '';
  private waiting: ((r: Reply | Error) => void) | undefined;
  private lines: string[] = [];
  private closedWith: Error | undefined;

  private constructor(
    private socket: Socket | TLSSocket,
    private readonly timeoutMs: number,
  ) {
    this.attach(socket);
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err: Error) => this.fail(err));
    socket.on('close', () => this.fail(new ProbeError('connection closed')));
  }

  private fail(err: Error): void {
    this.closedWith ??= err;
    const w = this.waiting;
    this.waiting = undefined;
    w?.(err);
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let i = this.buffer.indexOf('\n'); i >= 0; i = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, i).replace(/\r$/, '');
      this.buffer = this.buffer.slice(i + 1);
      this.lines.push(line);
      if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) {
        const reply: Reply = { code: Number(line.slice(0, 3)), text: this.lines.join('\n') };
        this.lines = [];
        const w = this.waiting;
        this.waiting = undefined;
        w?.(reply);
      }
    }
  }

  private next(): Promise<Reply> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new ProbeError(`no reply within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.waiting = (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
    });
  }

  /** Connects and reads the greeting. */
  static async open(host: string, port: number, timeoutMs: number): Promise<{ probe: SmtpProbe; greeting: Reply }> {
    const socket = netConnect({ host, port });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ProbeError(`connect timeout after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const probe = new SmtpProbe(socket, timeoutMs);
    return { probe, greeting: await probe.next() };
  }

  async command(line: string): Promise<Reply> {
    const reply = this.next();
    this.socket.write(`${line}\r\n`);
    return reply;
  }

  /** DATA with a small, dot-stuffed message (the `--send` probes only). */
  async data(message: string): Promise<Reply> {
    const go = await this.command('DATA');
    if (go.code !== 354) return go;
    const reply = this.next();
    this.socket.write(`${message.replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..')}\r\n.\r\n`);
    return reply;
  }

  /** STARTTLS, then the handshake: `authorized` is the certificate verdict against `ca` (or the system CAs). */
  async starttls(servername: string, ca?: Buffer): Promise<{ reply: Reply; authorized: boolean; authorizationError?: string }> {
    const reply = await this.command('STARTTLS');
    if (reply.code !== 220) return { reply, authorized: false };
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    const secure = tlsConnect({ socket: plain, servername, rejectUnauthorized: false, ...(ca ? { ca } : {}) });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.socket = secure;
    this.attach(secure);
    const err = secure.authorizationError;
    return { reply, authorized: secure.authorized, ...(err ? { authorizationError: String(err) } : {}) };
  }

  close(): void {
    if (!this.closedWith) this.socket.end('QUIT\r\n');
    this.socket.destroy();
  }
}

/** EHLO keywords, upper-cased (`STARTTLS`, `AUTH PLAIN LOGIN`, …). */
export function capabilities(ehlo: Reply): string[] {
  return ehlo.text
    .split('\n')
    .slice(1)
    .map((l) => l.slice(4).trim().toUpperCase());
}
