/**
 * The members of nodemailer's SMTPConnection this project relies on that are not public
 * API, in one place, checked once at start-up (SPEC: use libraries through their public
 * API; where a private member must be used, fail loudly when the installed version lacks
 * it). nodemailer has no public way to give each recipient its own NOTIFY/ORCPT (it sends
 * the envelope's for all), to say whether the server offered DSN, or to ask for SMTPUTF8
 * when the addresses are ASCII but the client used it (RFC 6531: headers in UTF-8). And its
 * DataStream (the dot-stuffing of every message sent) loops over each byte in JavaScript:
 * `installDotStuffing` gives it src/delivery/dot-stuffing.ts's `indexOf` scan instead.
 * test/unit/library-internals.test.ts and test/unit/dot-stuffing.test.ts fail when an upgrade
 * changes any of this.
 */
import { createRequire } from 'node:module';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import DataStream from 'nodemailer/lib/smtp-connection/data-stream';
import { stuffChunk } from './dot-stuffing.js';

/** The nodemailer release these members were read from and tested with. */
export const TESTED_NODEMAILER = '10.6.0';

export interface ConnectionInternals {
  /** Recipients whose RCPT TO was sent; the last is the one being written. */
  _recipientQueue: string[];
  /** Extensions from the EHLO reply (DSN, SMTPUTF8, …). */
  _supportedExtensions: string[];
  /** Renders the RCPT TO parameters (NOTIFY, ORCPT) of the recipient being written. */
  _getDsnRcptToArgs(): string;
  /** Writes one command line. */
  _sendCommand(str: string, logStr?: string): void;
}

const installed = (): string => (createRequire(import.meta.url)('nodemailer/package.json') as { version: string }).version;

/** Throws, naming what is missing, unless the installed nodemailer is the tested one with these members. */
export function assertNodemailerInternals(): void {
  const version = installed();
  if (version !== TESTED_NODEMAILER)
    throw new Error(
      `nodemailer ${version} is installed, but Switchyard relies on internals of ${TESTED_NODEMAILER} (src/delivery/nodemailer-internals.ts): install the pinned version (npm ci)`,
    );
  const conn = new SMTPConnection({ host: '127.0.0.1', port: 1 }) as unknown as Partial<ConnectionInternals>;
  const proto = SMTPConnection.prototype as unknown as Partial<ConnectionInternals>;
  const missing = [
    Array.isArray(conn._recipientQueue) ? undefined : '_recipientQueue',
    Array.isArray(conn._supportedExtensions) ? undefined : '_supportedExtensions',
    typeof proto._getDsnRcptToArgs === 'function' ? undefined : '_getDsnRcptToArgs',
    typeof proto._sendCommand === 'function' ? undefined : '_sendCommand',
  ].filter((m): m is string => m !== undefined);
  if (missing.length > 0)
    throw new Error(`nodemailer ${version}: SMTPConnection lacks ${missing.join(', ')} (src/delivery/nodemailer-internals.ts)`);
}

export const internals = (conn: SMTPConnection): ConnectionInternals => conn as unknown as ConnectionInternals;

type TransformMethod = (this: DataStream, chunk: Buffer | string, encoding: BufferEncoding, done: () => void) => void;
const streamProto = DataStream.prototype as unknown as { _transform?: TransformMethod };

/** DataStream's own `_transform`, as installed (the reference of test/unit/dot-stuffing.test.ts). */
export const nodemailerTransform: TransformMethod | undefined = streamProto._transform;

/** DataStream's `_transform` (its counters, `lastByte`, one push per chunk) over `stuffChunk`. */
export const fastTransform: TransformMethod = function (this: DataStream, chunk, _encoding, done) {
  if (!chunk || chunk.length === 0) return done();
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  this.inByteCount += bytes.length;
  const out = stuffChunk(bytes, this.lastByte);
  this.outByteCount += out.length;
  this.push(out);
  this.lastByte = bytes[bytes.length - 1] as number;
  done();
};

/** Makes every DataStream of this process use `fastTransform`; throws when DataStream has no `_transform` of its own to replace. */
export function installDotStuffing(): void {
  if (streamProto._transform === fastTransform) return;
  if (typeof nodemailerTransform !== 'function' || !Object.hasOwn(streamProto, '_transform'))
    throw new Error(`nodemailer ${installed()}: DataStream lacks its own _transform (src/delivery/nodemailer-internals.ts)`);
  streamProto._transform = fastTransform;
}
