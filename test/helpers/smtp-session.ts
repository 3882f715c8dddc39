/** One SMTP session driven a command at a time (a transaction kept open across an event). */
import { connect } from 'node:net';

export interface SmtpSession {
  /** Sends one line (or raw data) and resolves with the next reply's last line. */
  send(step: string | { raw: string }): Promise<string>;
  close(): void;
}

export async function openSession(port: number): Promise<SmtpSession & { readonly greeting: string }> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.setEncoding('utf8');
  socket.on('error', () => undefined); // a reset shows as '(closed)'
  let buffer = '';
  const replies: string[] = [];
  const waiting: ((r: string) => void)[] = [];
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let m = /^(\d{3}) .*\r\n/m.exec(buffer); m; m = /^(\d{3}) .*\r\n/m.exec(buffer)) {
      const reply = buffer.slice(0, m.index + m[0].length).trimEnd();
      buffer = buffer.slice(m.index + m[0].length);
      const w = waiting.shift();
      if (w) w(reply);
      else replies.push(reply);
    }
  });
  socket.on('close', () => {
    for (const w of waiting.splice(0)) w('(closed)');
  });
  const next = (): Promise<string> => {
    const queued = replies.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (socket.destroyed) return Promise.resolve('(closed)');
    return new Promise((resolve) => waiting.push(resolve));
  };
  const greeting = await next();
  return {
    greeting,
    async send(step) {
      socket.write(typeof step === 'string' ? `${step}\r\n` : step.raw);
      return next();
    },
    close: () => socket.destroy(),
  };
}
