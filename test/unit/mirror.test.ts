/**
 * SPEC §10 in the merge: a managed contact whose marker names an object of the table is
 * that object's mirror — no conflict (§3.1), and it never takes the address from its
 * origin, whatever the sources' priorities.
 */
import { describe, expect, it } from 'vitest';
import { adMapping } from '../../src/directory/ldap/mapping.js';
import { formatMarker, parseMarker, rivals } from '../../src/routing/marker.js';
import { buildObject, rankKey, type RecipientObject } from '../../src/routing/object.js';
import { decodeObject, encodeObject } from '../../src/store/codec.js';

const GUID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

function built(source: string, e: Record<string, unknown>): RecipientObject {
  const r = buildObject(source, { id: 'CN=x', dn: 'CN=x', objectClass: ['contact'], proxyAddresses: [], ...e });
  if (r.ok !== true) throw new Error(`not built: ${r.reason}`);
  return r.object;
}

const origin = (): RecipientObject =>
  built('corp-ad', { id: GUID, dn: 'CN=Ada,OU=Staff', objectClass: ['user'], proxyAddresses: ['SMTP:ada@contoso.edu'] });
const mirror = (marker = formatMarker({ source: 'corp-ad', id: GUID })): RecipientObject =>
  built('cloud', {
    id: 'c-1',
    dn: 'CN=Ada,OU=Cloud Contacts',
    proxyAddresses: ['SMTP:ada@contoso.edu'],
    targetAddress: 'SMTP:ada@onprem.contoso.edu',
    marker,
  });

describe('GAL-sync marker', () => {
  it('names the origin source and id, and round-trips', () => {
    const m = formatMarker({ source: 'corp-ad', id: GUID });
    expect(m).toBe(`switchyard-galsync:corp-ad:${GUID}`);
    expect(parseMarker(m)).toEqual({ source: 'corp-ad', id: GUID });
    // a CSV id is a DN, colons and commas included
    expect(parseMarker('switchyard-galsync:students:CN=a:b,OU=x')).toEqual({ source: 'students', id: 'CN=a:b,OU=x' });
  });

  it('ignores any other adminDescription', () => {
    for (const v of [undefined, '', 'hand made', 'switchyard-galsync:', 'switchyard-galsync:corp-ad', 'switchyard-galsync::x'])
      expect(parseMarker(v)).toBeUndefined();
  });

  it('is read by the AD mapping and kept through the stored form', () => {
    const attrs = new Map<string, (string | Buffer)[]>([
      ['objectguid', [Buffer.alloc(16, 1)]],
      ['objectclass', ['top', 'contact']],
      ['admindescription', [formatMarker({ source: 'corp-ad', id: GUID })]],
    ]);
    const r = adMapping.toEntry('CN=Ada,OU=Cloud Contacts', attrs);
    expect('entry' in r && r.entry.marker).toBe(`switchyard-galsync:corp-ad:${GUID}`);
    const m = mirror();
    expect(decodeObject(encodeObject(m, rankKey(m, 0))).mirrorOf).toEqual({ source: 'corp-ad', id: GUID });
  });
});

describe('mirror rule in the merge', () => {
  it('only a contact with a marker is a mirror', () => {
    expect(mirror().mirrorOf).toEqual({ source: 'corp-ad', id: GUID });
    expect(mirror('notes').mirrorOf).toBeUndefined();
    const user = built('cloud', {
      objectClass: ['user'],
      proxyAddresses: ['SMTP:x@contoso.edu'],
      marker: formatMarker({ source: 'corp-ad', id: GUID }),
    });
    expect(user.mirrorOf).toBeUndefined();
  });

  it('a mirror never outranks its origin, whatever the priorities', () => {
    expect(rankKey(mirror(), 999_999) > rankKey(origin(), -999_999)).toBe(true);
    // nor any other object that is not a mirror; a plain contact of the same priority still outranks a mirror
    const plain = built('cloud', { dn: 'CN=Z', proxyAddresses: ['SMTP:z@contoso.edu'], targetAddress: 'SMTP:z@x.org' });
    expect(rankKey(mirror(), 5) > rankKey(plain, 5)).toBe(true);
  });

  it('a mirror beside its origin is no rival; beside another object it is', () => {
    const o = origin();
    const m = mirror();
    expect(rivals([o, m])).toEqual([o]);
    // its origin (same id, other case) anywhere among the holders
    const other = built('students', { id: 'CN=s', dn: 'CN=s', objectClass: ['user'], proxyAddresses: ['SMTP:ada@contoso.edu'] });
    expect(rivals([other, m, { ...o, id: GUID.toUpperCase() }])).toEqual([other, { ...o, id: GUID.toUpperCase() }]);
    // origin not among the holders: the mirror is an ordinary rival
    expect(rivals([other, m])).toEqual([other, m]);
    // a mirror of an object of another source with the same id is not its origin's mirror
    expect(rivals([{ ...o, source: 'elsewhere' }, m])).toHaveLength(2);
  });
});
