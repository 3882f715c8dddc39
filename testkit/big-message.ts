/**
 * Large test messages generated as streams (never whole in memory), with the sha256 of
 * their body computed as they are generated, for memory tests and the B6 benchmark.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

export interface BigMessage {
  readonly stream: Readable;
  /** sha256 (hex) of the body after the header block, once the stream has ended. */
  readonly body: Promise<string>;
  /** Exact size in bytes. */
  readonly size: number;
}

/** A message of about `bytes` to `to`: headers naming `n` (`X-Big: n`), then base64 lines of random data. */
export function bigMessage(n: number, bytes: number, to = 'ada.lovelace@contoso.edu'): BigMessage {
  const head = Buffer.from(
    `From: <sender@example.org>\r\nTo: <${to}>\r\nSubject: big ${n}\r\nMessage-ID: <big${n}.${Date.now()}@example.org>\r\nX-Big: ${n}\r\n\r\n`,
  );
  const lines = Math.floor((bytes - head.length) / 78);
  const sha = createHash('sha256');
  let resolveBody: (hex: string) => void = () => undefined;
  const body = new Promise<string>((r) => (resolveBody = r));
  let sent = 0;
  let started = false;
  const stream = new Readable({
    read() {
      if (!started) {
        started = true;
        this.push(head);
      }
      if (sent >= lines) {
        resolveBody(sha.digest('hex'));
        this.push(null);
        return;
      }
      const batch = Math.min(800, lines - sent);
      const chunk = Buffer.from(
        randomBytes(57 * batch)
          .toString('base64')
          .replace(/(.{76})/g, '$1\r\n'),
      );
      sha.update(chunk);
      sent += batch;
      this.push(chunk);
    },
  });
  return { stream, body, size: head.length + lines * 78 };
}
