/**
 * The members of nodemailer's SMTPConnection this project relies on that are not public
 * API, in one place, checked once at start-up (SPEC: use libraries through their public
 * API; where a private member must be used, fail loudly when the installed version lacks
 * it). nodemailer has no public way to give each recipient its own NOTIFY/ORCPT (it sends
 * the envelope's for all), to say whether the server offered DSN, or to ask for SMTPUTF8
 * when the addresses are ASCII but the client used it (RFC 6531: headers in UTF-8). And its
 * DataStream (the dot-stuffing of every message sent) loops over each byte in JavaScript
 * and pushes the terminator apart from the data (a socket write of its own): `installDotStuffing`
 * gives it src/delivery/dot-stuffing.ts's `indexOf` scan instead, and sends the last chunk
 * with the terminator.
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
type FlushMethod = (this: DataStream, done: () => void) => void;
const streamProto = DataStream.prototype as unknown as { _transform?: TransformMethod; _flush?: FlushMethod };
const CR = 0x0d;
const LF = 0x0a;
// DataStream's terminators after an LF, after a bare CR, and otherwise; shared, as sockets and concat only read them
const END_AFTER_LF = Buffer.from('.\r\n');
const END_AFTER_CR = Buffer.from('\n.\r\n');
const END = Buffer.from('\r\n.\r\n');

/** DataStream's own `_transform` and `_flush`, as installed (the reference of test/unit/dot-stuffing.test.ts). */
export const nodemailerTransform: TransformMethod | undefined = streamProto._transform;
export const nodemailerFlush: FlushMethod | undefined = streamProto._flush;

/** The stuffed chunk a DataStream has not pushed yet: it goes out with the next, or with the terminator. */
const HELD = Symbol('switchyard.heldChunk');
type Holding = DataStream & { [HELD]?: Buffer };

/** A held chunk up to this size is sent in one write with the terminator (one copy); a larger one before it. */
export const JOIN_TERMINATOR_BYTES = 64 * 1024;

/**
 * DataStream's `_transform` (its counters, `lastByte`) over `stuffChunk`, one chunk behind:
 * each call pushes the chunk before, so that the last goes out with the terminator in
 * `fastFlush` — one socket write instead of two for a message stored in one chunk (B3).
 */
export const fastTransform: TransformMethod = function (this: Holding, chunk, _encoding, done) {
  if (!chunk || chunk.length === 0) return done();
  const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
  this.inByteCount += bytes.length;
  const out = stuffChunk(bytes, this.lastByte);
  this.outByteCount += out.length;
  const held = this[HELD];
  this[HELD] = out;
  this.lastByte = bytes[bytes.length - 1] as number;
  if (held !== undefined) this.push(held);
  done();
};

/** DataStream's `_flush` (the terminator after the last byte, counted), with the held chunk in front of it. */
export const fastFlush: FlushMethod = function (this: Holding, done) {
  const terminator = this.lastByte === LF ? END_AFTER_LF : this.lastByte === CR ? END_AFTER_CR : END;
  this.outByteCount += terminator.length;
  const held = this[HELD];
  this[HELD] = undefined;
  if (held === undefined) this.push(terminator);
  else if (held.length <= JOIN_TERMINATOR_BYTES) this.push(Buffer.concat([held, terminator]));
  else {
    this.push(held);
    this.push(terminator);
  }
  done();
};

/** Makes every DataStream of this process use `fastTransform` and `fastFlush`; throws when DataStream lacks its own of either to replace. */
export function installDotStuffing(): void {
  if (streamProto._transform === fastTransform && streamProto._flush === fastFlush) return;
  for (const [name, own] of [
    ['_transform', nodemailerTransform],
    ['_flush', nodemailerFlush],
  ] as const)
    if (typeof own !== 'function' || !Object.hasOwn(streamProto, name))
      throw new Error(`nodemailer ${installed()}: DataStream lacks its own ${name} (src/delivery/nodemailer-internals.ts)`);
  streamProto._transform = fastTransform;
  streamProto._flush = fastFlush;
}
