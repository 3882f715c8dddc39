/**
 * The lean SearchResultEntry decoder (src/directory/ldap/lean-entry.ts) and its framing
 * (ldapts-internals.ts) give what ldapts's own MessageParser gives for the same bytes,
 * however the stream is cut into chunks; what the decoder does not read goes to ldapts.
 * The real-server comparison is test/integration/ldap-lean-decoder.test.ts.
 */
import { Client, FilterParser, MessageParser, SearchEntry, SearchRequest, SearchResponse, SearchReference } from 'ldapts';
import { describe, expect, it } from 'vitest';
import { assertLdaptsInternals, leanRead, TESTED_LDAPTS, useLeanDecoder } from '../../src/directory/ldap/ldapts-internals.js';
import { foldedRequest, leanAttributes } from '../../src/directory/ldap/folded-entry.js';
import { LeanSearchEntry } from '../../src/directory/ldap/lean-entry.js';
import { foldRanges } from '../../src/directory/ldap/mapping.js';

/** A BER TLV, long-form length when over 127 bytes. */
function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const n = body.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...len]), body]);
}
const str = (s: string | Buffer): Buffer => tlv(0x04, typeof s === 'string' ? Buffer.from(s, 'utf8') : s);
const attr = (type: string, values?: (string | Buffer)[]): Buffer =>
  values === undefined ? tlv(0x30, str(type)) : tlv(0x30, str(type), tlv(0x31, ...values.map(str)));
const msg = (id: number, op: Buffer, controls?: Buffer): Buffer =>
  tlv(0x30, tlv(0x02, Buffer.from(id < 0x80 ? [id] : [id >> 8, id & 0xff])), op, ...(controls ? [controls] : []));
const entry = (id: number, dn: string, attrs: Buffer[], controls?: Buffer): Buffer =>
  msg(id, tlv(0x64, str(dn), tlv(0x30, ...attrs)), controls);
/** searchResDone, success, with a paged results control carrying `cookie`. */
const done = (id: number, cookie: string): Buffer =>
  msg(
    id,
    tlv(0x65, tlv(0x0a, Buffer.from([0])), str(''), str('')),
    tlv(0xa0, tlv(0x30, str('1.2.840.113556.1.4.319'), str(tlv(0x30, tlv(0x02, Buffer.from([0])), str(cookie))))),
  );

const guid = Buffer.from('5a5a00001122334455667788990a0b0c', 'hex');
const REQUESTED = ['objectGUID', 'cn', 'proxyAddresses', 'displayName', 'description', 'absentAttr'];

function request(id: number, explicitBufferAttributes: string[], attributes = REQUESTED): Map<string, { message: SearchRequest }> {
  const message = new SearchRequest({
    messageId: id,
    filter: FilterParser.parseString('(objectClass=*)'),
    attributes,
    explicitBufferAttributes,
  });
  return new Map([[String(id), { message }]]);
}

/** What a parser emits for `chunks`: entries as toObject gives them, other messages by kind. */
function parse(chunks: Buffer[], lean: boolean, buffers: string[] = ['objectGUID']): unknown[] {
  const parser = new MessageParser();
  if (lean) leanRead(parser);
  const out: unknown[] = [];
  parser.on('message', (m) => {
    if (m instanceof SearchEntry) out.push({ entry: m.toObject(REQUESTED, buffers) });
    else if (m instanceof SearchResponse) out.push({ done: m.status, controls: (m.controls ?? []).map((c) => JSON.stringify(c)) });
    else if (m instanceof SearchReference) out.push({ refs: m.uris });
    else out.push({ other: m.constructor.name });
  });
  parser.on('error', (e) => out.push({ error: e.message }));
  const details = request(7, buffers);
  for (const c of chunks) parser.read(c, details);
  return out;
}

const many = Array.from({ length: 300 }, (_, i) => `smtp:alias${i}@contoso.edu`);
const stream = Buffer.concat([
  entry(7, 'cn=Plain,dc=contoso,dc=edu', [
    attr('objectGUID', [guid]),
    attr('cn', ['Plain']),
    attr('proxyAddresses', ['SMTP:plain@contoso.edu', 'smtp:p@alias.contoso.edu']),
  ]),
  entry(7, 'cn=Zoë Ærø,dc=contoso,dc=edu', [
    attr('cn', ['Zoë Ærø']),
    attr('displayName', ['\ufeffwith a BOM', 'Ünïcödé ✓ 😀']),
    attr('description', [Buffer.from([0x41, 0xff, 0xfe]), 'ascii']), // not UTF-8: every value a Buffer
    attr('userCertificate;binary', [Buffer.from('3082', 'hex')]),
    attr('empty', []),
    attr('noSet'),
    attr('CN', ['upper case type']),
  ]),
  entry(7, 'cn=Big,dc=contoso,dc=edu', [attr('proxyAddresses;range=0-299', many), attr('cn', [''])]), // long-form lengths
  entry(7, '', [attr('objectGUID', [Buffer.from('0011223344556677', 'hex')])]), // empty DN
  entry(7, 'cn=With control,dc=contoso,dc=edu', [attr('cn', ['c'])], tlv(0xa0, tlv(0x30, str('1.2.3.4')))),
  msg(7, tlv(0x73, str('ldap://other.example/dc=contoso,dc=edu'))), // a referral
  done(7, 'cookie'),
]);

describe('lean search entry decoder', () => {
  it('gives what ldapts gives for the same stream, whole', () => {
    const theirs = parse([stream], false);
    expect(theirs).toHaveLength(7);
    expect(parse([stream], true)).toStrictEqual(theirs);
    // and with no explicit buffer attribute (objectGUID decoded as text where it is UTF-8)
    expect(parse([stream], true, [])).toStrictEqual(parse([stream], false, []));
  });

  it('gives the same however the stream is cut into chunks', () => {
    const theirs = parse([stream], false);
    for (let cut = 1; cut < stream.length; cut += 7) {
      expect(parse([stream.subarray(0, cut), stream.subarray(cut)], true)).toStrictEqual(theirs);
    }
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    expect(parse(bytes, true)).toStrictEqual(theirs);
    const thirds = [0, 1, 2].map((i) => stream.subarray((i * stream.length) / 3, ((i + 1) * stream.length) / 3));
    expect(parse(thirds, true)).toStrictEqual(theirs);
  });

  it('decodes the entries itself and leaves the rest to ldapts', () => {
    const parser = new MessageParser();
    leanRead(parser);
    const kinds: string[] = [];
    parser.on('message', (m) => kinds.push(m.constructor.name));
    parser.read(stream, request(7, ['objectGUID']));
    expect(kinds).toEqual([
      'LeanSearchEntry',
      'LeanSearchEntry',
      'LeanSearchEntry',
      'LeanSearchEntry',
      'SearchEntry',
      'SearchReference',
      'SearchResponse',
    ]);
  });

  it('hands a stream it cannot frame to ldapts, which reports it', () => {
    const bad = Buffer.concat([entry(7, 'cn=a', [attr('cn', ['a'])]), Buffer.from([0x31, 0x80, 0x00])]);
    const lean = parse([bad], true);
    expect(lean).toStrictEqual(parse([bad], false));
    expect(lean.at(-1)).toMatchObject({ error: expect.stringMatching(/Indefinite length/) });
  });

  it('fills requested attributes the server left out, case-insensitively, as ldapts does', () => {
    const [first] = parse([stream], true) as { entry: Record<string, unknown> }[];
    expect(first?.entry).toMatchObject({ displayName: [], description: [], absentAttr: [] });
    expect(LeanSearchEntry.prototype).toBeInstanceOf(SearchEntry);
  });
});

describe('entries of a folded search (foldedRequest)', () => {
  const mixed = entry(7, 'cn=Mixed,dc=contoso,dc=edu', [
    attr('objectGUID', [guid]),
    attr('displayName', ['\ufeffwith a BOM', 'Ünïcödé ✓ 😀']),
    attr('description', [Buffer.from([0x41, 0xff, 0xfe]), 'ascii']), // not UTF-8: every value a Buffer
    attr('empty', []),
    attr('noSet'),
    attr('proxyAddresses', many),
  ]);
  const dnAttribute = entry(7, 'cn=Dn,dc=contoso,dc=edu', [attr('cn', ['Dn']), attr('dn', ['cn=other'])]);
  const binary = entry(7, 'cn=Cert,dc=contoso,dc=edu', [
    attr('cn', ['Cert']),
    attr('userCertificate;binary', [Buffer.from('3082', 'hex')]),
  ]);
  const twice = entry(7, 'cn=Twice,dc=contoso,dc=edu', [attr('cn', ['Twice']), attr('CN', ['again'])]);
  const foldStream = Buffer.concat([mixed, dnAttribute, binary, twice, stream]);

  /**
   * The objects toObject gives for foldStream's entries: with the lean decoder and the search's
   * attributes marked (`folded`), or from ldapts's own parser (the attributes marked or not).
   */
  function objects(lean: boolean, folded: boolean): Record<string, unknown>[] {
    const parser = new MessageParser();
    if (lean) leanRead(parser);
    const attributes = folded ? foldedRequest([...REQUESTED]) : [...REQUESTED];
    const out: Record<string, unknown>[] = [];
    parser.on('message', (m) => {
      if (m instanceof SearchEntry) out.push(m.toObject(attributes, ['objectGUID']));
    });
    parser.read(foldStream, request(7, ['objectGUID'], attributes));
    return out;
  }

  it('have only their DN, their attributes as foldRanges folds ldapts’s object (but the empty fills)', () => {
    const theirs = objects(false, false);
    const ours = objects(true, true);
    expect(objects(false, true)).toStrictEqual(theirs); // a marked search means nothing to ldapts's own parser
    expect(objects(true, false)).toStrictEqual(theirs); // unmarked, the lean decoder gives ldapts's objects
    expect(ours).toHaveLength(9);
    // mixed, a dn attribute, ;binary, cn and CN, then stream's: plain, Zoë (;binary, CN), ranged, empty DN, with a control (parsed by ldapts)
    expect(ours.map((o) => leanAttributes(o) !== undefined)).toEqual([true, false, false, false, true, false, false, true, false]);
    for (const [i, raw] of ours.entries()) {
      const their = theirs[i] as Record<string, unknown>;
      expect(leanAttributes(their)).toBeUndefined(); // an unmarked search's objects are ldapts's, never folded
      const lean = leanAttributes(raw);
      if (lean === undefined) {
        expect(raw).toStrictEqual(their); // what the fold cannot take: ldapts's object, as an unmarked search gives it
        continue;
      }
      expect(Object.keys(raw)).toEqual(['dn']);
      expect(raw.dn).toBe(their.dn);
      const folded = foldRanges(their).attrs;
      expect(new Map([...folded].filter(([k]) => lean.has(k)))).toStrictEqual(lean);
      expect([...folded].filter(([k]) => !lean.has(k)).every(([, v]) => v.length === 0)).toBe(true);
      expect([...lean.keys()].filter((k) => !folded.has(k))).toEqual([]);
    }
    const first = leanAttributes(ours[0] ?? {});
    expect(first?.get('description')).toStrictEqual([Buffer.from([0x41, 0xff, 0xfe]), Buffer.from('ascii')]);
    expect(first?.get('proxyaddresses')).toHaveLength(many.length);
  });
});

describe('ldapts internals', () => {
  it('the installed ldapts is the tested release with the members used', () => {
    expect(() => assertLdaptsInternals()).not.toThrow();
    expect(TESTED_LDAPTS).toBe('8.0.17');
    expect(() => useLeanDecoder(new Client({ url: 'ldap://127.0.0.1:1' }))).not.toThrow();
  });

  it('a missing member is named', () => {
    const proto = MessageParser.prototype as unknown as Record<string, unknown>;
    const read = proto.read;
    delete proto.read;
    try {
      expect(() => assertLdaptsInternals()).toThrow(/Client lacks MessageParser\.read/);
    } finally {
      proto.read = read;
    }
  });
});
