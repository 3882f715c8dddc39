/**
 * The one ldapts internal Switchyard replaces, per client and only for the clients of an
 * LDAP source's sessions (session.ts): the `read` of the Client's private `messageParser`,
 * which frames the bytes of the socket into LDAP messages. The replacement frames them
 * itself and decodes each SearchResultEntry with lean-entry.ts (the same object, a
 * fraction of the work: B2, docs/benchmarks.md; for the sync's own searches, marked by
 * folded-entry.ts, an object with only `dn` and the folded attributes); every other
 * message (bind and search results with their paging cookie, referrals, extended
 * responses, an entry carrying controls or bytes it does not expect) goes whole to
 * ldapts's own `read`, unchanged.
 *
 * ldapts has no public option for this (`explicitBufferAttributes` still decodes every
 * value). `useLeanDecoder` first checks that the installed ldapts is the tested release
 * and has the members used, and throws otherwise (a worker with an LDAP source checks at
 * start-up, src/main/worker.ts); test/unit/ldap-lean-decoder.test.ts (the guard,
 * hand-built streams) and test/integration/{ldap,ad}-lean-decoder.test.ts fail when an upgrade changes either.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Client, MessageParser, SearchEntry, SearchRequest } from 'ldapts';
import { isFoldedRequest } from './folded-entry.js';
import { SEARCH_ENTRY_TAG, decodeEntry, header, lastLength, type LeanSearchEntry } from './lean-entry.js';

/** The ldapts release these members were read from and tested with. */
export const TESTED_LDAPTS = '8.0.17';

/** The client's requests by message id, as MessageParser.read takes them. */
type Details = Parameters<MessageParser['read']>[1];

interface ClientInternals {
  /** Parses what `socketDataHandler` gets from the socket; emits 'message' per LDAP message. */
  messageParser: MessageParser;
  /** The requests waiting for an answer, by message id (the search request of an entry). */
  messageDetailsByMessageId: Details;
  socketDataHandler: (data: Buffer) => void;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;

/** The installed ldapts's version (its package.json is not in its `exports`: read it beside its entry point). */
function installedLdapts(): string {
  const main = createRequire(import.meta.url).resolve('ldapts'); // …/node_modules/ldapts/dist/index.cjs
  const pkg = JSON.parse(readFileSync(join(dirname(main), '..', 'package.json'), 'utf8')) as { name?: string; version?: string };
  return pkg.name === 'ldapts' && typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** Throws, naming what is missing, unless the installed ldapts is the tested one with these members. */
export function assertLdaptsInternals(): void {
  const version = installedLdapts();
  if (version !== TESTED_LDAPTS)
    throw new Error(
      `ldapts ${version} is installed, but Switchyard replaces internals of ${TESTED_LDAPTS} (src/directory/ldap/ldapts-internals.ts): install the pinned version (npm ci)`,
    );
  const probe = new Client({ url: 'ldap://127.0.0.1:1' }) as unknown as Partial<ClientInternals>;
  const missing = [
    probe.messageParser instanceof MessageParser ? undefined : 'messageParser',
    probe.messageDetailsByMessageId instanceof Map ? undefined : 'messageDetailsByMessageId',
    typeof probe.socketDataHandler === 'function' ? undefined : 'socketDataHandler',
    typeof MessageParser.prototype.read === 'function' ? undefined : 'MessageParser.read',
    typeof SearchEntry.prototype.toObject === 'function' ? undefined : 'SearchEntry.toObject',
  ].filter((m): m is string => m !== undefined);
  if (missing.length > 0) throw new Error(`ldapts ${version}: Client lacks ${missing.join(', ')} (src/directory/ldap/ldapts-internals.ts)`);
}

/** The message whose contents run from `body` to `end`, if it is a SearchResultEntry this decoder reads. */
function leanEntry(buf: Buffer, body: number, end: number, details: Details): LeanSearchEntry | undefined {
  if (buf[body] !== INTEGER) return undefined;
  const idAt = header(buf, body, end);
  const idLength = lastLength();
  if (idAt < 0 || idLength < 1 || idLength > 4 || (buf[idAt] as number) >= 0x80) return undefined;
  let id = 0;
  for (let i = idAt; i < idAt + idLength; i++) id = id * 256 + (buf[i] as number);
  const op = idAt + idLength;
  if (buf[op] !== SEARCH_ENTRY_TAG) return undefined;
  const entryAt = header(buf, op, end);
  if (entryAt < 0 || entryAt + lastLength() !== end) return undefined; // controls follow: ldapts parses them
  const request = details.get(String(id))?.message;
  if (!(request instanceof SearchRequest)) return undefined;
  return decodeEntry(buf, id, entryAt, end, request.explicitBufferAttributes, isFoldedRequest(request.attributes));
}

/**
 * Makes `client` decode search entries with the lean decoder. Throws (before any I/O)
 * when the installed ldapts is not the tested release or lacks a member used.
 */
export function useLeanDecoder(client: Client): void {
  checked ??= (assertLdaptsInternals(), true);
  leanRead((client as unknown as ClientInternals).messageParser);
}

/** Replaces `parser.read` (of this parser only) by the lean framing; what it does not read goes to ldapts's. */
export function leanRead(parser: MessageParser): void {
  const original = MessageParser.prototype.read.bind(parser); // ldapts's own, for what the lean framing leaves
  /** The start of a message not complete yet, in chunks; `need`: its whole size once its header is in. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let need = 0;
  /** Set when the stream holds what this framing does not read: ldapts reads the rest. */
  let handedOver = false;

  const message = (buf: Buffer, start: number, body: number, end: number, details: Details): void => {
    const entry = leanEntry(buf, body, end, details);
    if (entry !== undefined) parser.emit('message', entry);
    else original(buf.subarray(start, end), details);
  };

  parser.read = function read(data: Buffer, details: Details): void {
    if (handedOver) return original(data, details);
    let buf = data;
    if (pendingBytes > 0) {
      pending.push(data);
      pendingBytes += data.length;
      if (pendingBytes < need) return; // still incomplete: join the chunks once, when it is whole
      buf = Buffer.concat(pending, pendingBytes);
      pending = [];
      pendingBytes = 0;
      need = 0;
    }
    let off = 0;
    while (off < buf.length) {
      const body = buf[off] === SEQUENCE ? header(buf, off, buf.length) : -2;
      if (body === -2) {
        handedOver = true; // not a message this framing reads: ldapts reports it as it would
        return original(buf.subarray(off), details);
      }
      const end = body < 0 ? 0 : body + lastLength();
      if (body === -1 || end > buf.length) {
        pending = [buf.subarray(off)];
        pendingBytes = buf.length - off;
        need = end - off; // ≤ 0 while the header itself is incomplete
        return;
      }
      message(buf, off, body, end, details);
      off = end;
    }
  };
}

let checked: true | undefined;
