/**
 * A lean decoder of one LDAP SearchResultEntry message (RFC 4511 §4.5.2) into the very
 * object ldapts 8.0.17's `SearchEntry.toObject` returns, without ldapts's per-entry cost:
 * no BerReader, no Attribute object, no Buffer per value and no fatal `TextDecoder` call
 * per value. A value of bytes below 0x80 is ASCII and becomes a string at once; only a
 * value with a byte ≥ 0x80 goes through the same fatal UTF-8 decoder ldapts uses (a value
 * that is not UTF-8 makes the attribute's values Buffers, as there). Attributes listed in
 * the request's `explicitBufferAttributes` and `;binary` ones stay Buffers (objectGUID).
 *
 * A search marked by `foldedRequest` (the sync's own, session.ts) gets its entries folded
 * instead: an object with only `dn`, whose attributes `leanAttributes` gives as foldRanges
 * would fold ldapts's object (no empty fills). Such objects cost no property per attribute.
 *
 * Anything this decoder does not expect (another tag, a long-form length over 4 bytes,
 * controls after the entry, trailing bytes) makes it return undefined: the caller then
 * hands the message to ldapts's own parser (ldapts-internals.ts). test/integration/
 * ldap-lean-decoder.test.ts checks that both give equal objects for the same server answers.
 */
import { TextDecoder } from 'node:util';
import { SearchEntry, type Entry } from 'ldapts';
import { FoldedEntry, type FoldedAttributes } from './folded-entry.js';

/** LDAP_RES_SEARCH_ENTRY, [APPLICATION 4] constructed. */
export const SEARCH_ENTRY_TAG = 0x64;
const SEQUENCE = 0x30;
const SET = 0x31;
const OCTET_STRING = 0x04;

const utf8 = new TextDecoder('utf8', { fatal: true });
const BINARY_TYPE = /;binary$/i;

/** The length read by the last `header` call (module state: no object per TLV). */
let tlvLength = 0;

/**
 * The offset of the contents of the TLV whose tag is at `off`, its length left in `tlvLength`;
 * -1 when `end` comes first (incomplete), -2 when the length is not one this decoder reads.
 */
export function header(buf: Buffer, off: number, end: number): number {
  let i = off + 1;
  if (i >= end) return -1;
  const first = buf[i++] as number;
  if (first < 0x80) {
    tlvLength = first;
    return i;
  }
  const n = first & 0x7f;
  if (n === 0 || n > 4) return -2; // indefinite or too long: ldapts's reader throws on both
  if (i + n > end) return -1;
  let len = 0;
  for (let k = 0; k < n; k++) len = len * 256 + (buf[i++] as number);
  tlvLength = len;
  return i;
}

/** The length of the last TLV `header` read. */
export const lastLength = (): number => tlvLength;

/** A value as ldapts decodes it: ASCII at once, else fatal UTF-8; undefined when not UTF-8. */
function text(buf: Buffer, start: number, end: number): string | undefined {
  for (let i = start; i < end; i++) {
    if ((buf[i] as number) >= 0x80) {
      try {
        return utf8.decode(buf.subarray(start, end));
      } catch {
        return undefined;
      }
    }
  }
  return buf.toString('latin1', start, end);
}

/** Reads an OCTET STRING's bounds at `off` (within `end`); -1 when it is not one. */
function octets(buf: Buffer, off: number, end: number): number {
  if (off >= end || buf[off] !== OCTET_STRING) return -1;
  const start = header(buf, off, end);
  return start < 0 || start + tlvLength > end ? -1 : start;
}

/** Shared by every lean entry: ldapts never adds to an entry's attributes or controls once parsed. */
const NO_ATTRIBUTES: [] = [];
const NO_CONTROLS: [] = [];

/**
 * A SearchEntry whose object is already built. For an ldapts-compatible object, `toObject`
 * only adds the requested attributes the server did not return (as ldapts does); a folded
 * entry is given as it is. Its `attributes` stay empty: ldapts reads a SearchEntry only
 * through `toObject`.
 */
export class LeanSearchEntry extends SearchEntry {
  constructor(
    messageId: number,
    name: string,
    private readonly object: Entry,
    /** The returned types, lower-cased as ldapts compares them; undefined for a folded entry. */
    private readonly returned: readonly string[] | undefined,
  ) {
    super({ messageId, name, attributes: NO_ATTRIBUTES });
    this.controls = NO_CONTROLS;
  }

  /** ldapts's fill of the requested attributes left out (`[]`), the returned ones skipped by name first. */
  override toObject(requestAttributes: string[]): Entry {
    const result = this.object;
    if (this.returned === undefined) return result;
    const lower = lowered(requestAttributes);
    for (let i = 0; i < lower.length; i++) {
      const attribute = requestAttributes[i] as string;
      if (!this.returned.includes(lower[i] as string) && result[attribute] === undefined) result[attribute] = [];
    }
    return result;
  }
}

/** The last request's attributes lower-cased (a search asks the same array for each of its entries). */
let lastRequest: { readonly attributes: readonly string[]; readonly lower: readonly string[] } | undefined;
function lowered(attributes: readonly string[]): readonly string[] {
  if (lastRequest?.attributes !== attributes) lastRequest = { attributes, lower: attributes.map(localeLower) };
  return lastRequest.lower;
}

/** Names lower-cased as ldapts does (toLocaleLowerCase), remembered: the same few names come once per entry. */
const lowerNames = new Map<string, string>();
function localeLower(name: string): string {
  let lower = lowerNames.get(name);
  if (lower === undefined) {
    lower = name.toLocaleLowerCase();
    if (lowerNames.size < 1000) lowerNames.set(name, lower);
  }
  return lower;
}

/** The type of the attribute `readAttribute` read last (module state, as `tlvLength`), and its end. */
let attrType: KnownType | undefined;
let attrEnd = 0;

/** Reads the attribute at `off` (before `end`): its values, its type in `attrType`; undefined when malformed. */
function readAttribute(
  buf: Buffer,
  off: number,
  end: number,
  buffers: readonly string[],
  position: number,
): (string | Buffer)[] | undefined {
  if (buf[off] !== SEQUENCE) return undefined;
  const attrAt = header(buf, off, end);
  if (attrAt < 0) return undefined;
  attrEnd = attrAt + tlvLength;
  if (attrEnd > end) return undefined;
  const typeAt = octets(buf, attrAt, attrEnd);
  if (typeAt < 0) return undefined;
  const typeEnd = typeAt + tlvLength;
  const known = attributeType(buf, typeAt, typeEnd, position);
  attrType = known;
  return attributeValues(buf, typeEnd, attrEnd, known.binary || buffers.includes(known.type));
}

/**
 * Decodes the SearchResultEntry whose protocol operation's contents run from `start` to
 * `end` (the message's end: nothing may follow, no controls) with `buffers` the request's
 * explicitBufferAttributes; `folded` for a search marked by `foldedRequest`. Undefined when
 * the bytes are not the expected shape.
 */
export function decodeEntry(
  buf: Buffer,
  messageId: number,
  start: number,
  end: number,
  buffers: readonly string[],
  folded = false,
): LeanSearchEntry | undefined {
  const nameAt = octets(buf, start, end);
  if (nameAt < 0) return undefined;
  const nameEnd = nameAt + tlvLength;
  const name = tlvLength === 0 ? '' : buf.toString('utf8', nameAt, nameEnd);
  if (nameEnd >= end || buf[nameEnd] !== SEQUENCE) return undefined;
  const first = header(buf, nameEnd, end);
  if (first < 0 || first + tlvLength !== end) return undefined;
  if (folded) {
    const attrs: FoldedAttributes = new Map();
    for (let off = first; off < end; off = attrEnd) {
      const values = readAttribute(buf, off, end, buffers, attrs.size);
      if (values === undefined) return undefined;
      const known = attrType as KnownType;
      // a `;` option (a range, ;binary), a name twice, `dn`, `controls`: ldapts's object, which foldRanges reads
      if (!known.plain || attrs.has(known.folded)) return decodeEntry(buf, messageId, start, end, buffers, false);
      attrs.set(known.folded, values);
    }
    return new LeanSearchEntry(messageId, name, new FoldedEntry(name, attrs) as unknown as Entry, undefined); // read by leanAttributes only
  }
  const result: Entry = { dn: name };
  const returned: string[] = [];
  for (let off = first; off < end; off = attrEnd) {
    const values = readAttribute(buf, off, end, buffers, returned.length);
    if (values === undefined) return undefined;
    const known = attrType as KnownType;
    returned.push(known.lower);
    result[known.type] = values.length === 1 ? (values[0] as string | Buffer) : (values as string[] | Buffer[]);
  }
  return new LeanSearchEntry(messageId, name, result, returned);
}

interface KnownType {
  readonly bytes: Buffer;
  readonly type: string;
  readonly lower: string;
  /** Lower-cased as foldRanges does, and whether foldRanges takes it as is (no range, not `dn`/`controls`). */
  readonly folded: string;
  readonly plain: boolean;
  /** A `;binary` type: ldapts keeps its values as Buffers. */
  readonly binary: boolean;
}

/**
 * The attribute types last seen at each position of an entry. The entries of one search
 * mostly list the same types in the same order: the same string is given again when the
 * bytes are the same (no string per attribute and entry; lookups by it hit a cached hash).
 */
const knownTypes: (KnownType | undefined)[] = [];

function attributeType(buf: Buffer, start: number, end: number, position: number): KnownType {
  const known = knownTypes[position];
  if (known !== undefined && known.bytes.length === end - start) {
    let i = 0;
    while (i < known.bytes.length && known.bytes[i] === buf[start + i]) i++;
    if (i === known.bytes.length) return known;
  }
  const type = start === end ? '' : buf.toString('utf8', start, end);
  const fresh = {
    bytes: Buffer.from(buf.subarray(start, end)),
    type,
    lower: localeLower(type),
    folded: type.toLowerCase(),
    plain: !type.includes(';') && type !== 'dn' && type !== 'controls',
    binary: BINARY_TYPE.test(type),
  };
  if (position < 64) knownTypes[position] = fresh;
  return fresh;
}

/** The values of one attribute: its SET from `off` to `end`; undefined when malformed. */
function attributeValues(buf: Buffer, off: number, end: number, binary: boolean): (string | Buffer)[] | undefined {
  if (off === end) return []; // no SET (ldapts reads no values)
  if (buf[off] !== SET) return undefined;
  let at = header(buf, off, end);
  if (at < 0 || at + tlvLength !== end) return undefined;
  const values: (string | Buffer)[] = [];
  while (at < end) {
    const v = octets(buf, at, end);
    if (v < 0) return undefined;
    const vEnd = v + tlvLength;
    if (binary) values.push(buf.subarray(v, vEnd));
    else {
      const s = text(buf, v, vEnd);
      // not UTF-8: ldapts returns every value of the attribute as a Buffer
      if (s === undefined) return rawValues(buf, off, end);
      values.push(s);
    }
    at = vEnd;
  }
  return values;
}

/** Every value of the attribute's SET at `off` as a Buffer. */
function rawValues(buf: Buffer, off: number, end: number): Buffer[] {
  const out: Buffer[] = [];
  let at = header(buf, off, end);
  while (at < end) {
    const v = octets(buf, at, end);
    out.push(buf.subarray(v, v + tlvLength));
    at = v + tlvLength;
  }
  return out;
}
