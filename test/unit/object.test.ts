import { describe, expect, it } from 'vitest';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import { buildObject, rankKey, type RecipientObject } from '../../src/routing/object.js';
import { guidFromBytes, guidToBytes } from '../../src/directory/guid.js';
import { deletionGuard } from '../../src/routing/guard.js';

const entry = (e: Partial<DirectoryEntry>): DirectoryEntry => ({ id: 'CN=x', dn: 'CN=x', objectClass: ['user'], proxyAddresses: [], ...e });

describe('buildObject', () => {
  it('writes a lone UTF-16 surrogate of the text as U+FFFD (what Redis stores), and refuses it in an address', () => {
    const built = buildObject(
      'corp',
      entry({ id: 'CN=a\uD800', dn: 'CN=a\uD800', displayName: 'Ann \uDC00', proxyAddresses: ['SMTP:a@contoso.edu'] }),
    );
    expect(built).toMatchObject({ ok: true, object: { id: 'CN=a\uFFFD', dn: 'CN=a\uFFFD', displayName: 'Ann \uFFFD' } });
    expect(buildObject('corp', entry({ proxyAddresses: ['SMTP:a\uD800@contoso.edu'] }))).toMatchObject({ ok: false });
    expect(buildObject('corp', entry({ id: 'CN=😀', dn: 'CN=😀', proxyAddresses: ['SMTP:a@contoso.edu'] }))).toMatchObject({
      ok: true,
      object: { id: 'CN=😀' },
    });
  });

  it('dedupes many addresses ignoring case, before and after its list gives way to a Set (past 16)', () => {
    const secondaries = Array.from({ length: 40 }, (_, i) => `smtp:a${i}@contoso.edu`);
    // each address again in upper case: early ones (list), late ones (Set), and mail last
    const again = [3, 15, 16, 17, 39].map((i) => `smtp:A${i}@CONTOSO.EDU`);
    const r = buildObject('corp', entry({ proxyAddresses: ['SMTP:p@contoso.edu', ...secondaries, ...again], mail: 'A39@contoso.edu' }));
    expect(r.ok === true && r.object.addresses).toEqual(['p@contoso.edu', ...secondaries.map((a) => a.slice(5))]);
  });

  it('takes SMTP: as primary, smtp: as secondaries, mail, and ignores other types', () => {
    const r = buildObject(
      'corp',
      entry({
        proxyAddresses: [
          'smtp:second@contoso.edu',
          'SMTP:First@contoso.edu',
          'X500:/o=Contoso/cn=first',
          'SIP:first@contoso.edu',
          'EUM:1234;phone-context=x',
        ],
        mail: 'first@contoso.edu',
      }),
    );
    expect(r.ok).toBe(true);
    if (r.ok !== true) return;
    expect(r.object.kind).toBe('mailbox');
    expect(r.object.primary).toBe('First@contoso.edu');
    // mail duplicates the primary ignoring case, so it is listed once
    expect(r.object.addresses).toEqual(['First@contoso.edu', 'second@contoso.edu']);
  });

  it('tells contacts and mail users by objectClass once they have a targetAddress', () => {
    const contact = buildObject(
      'corp',
      entry({ objectClass: ['top', 'Contact'], proxyAddresses: ['SMTP:c@x.org'], targetAddress: 'SMTP:c@x.org' }),
    );
    const mailUser = buildObject('corp', entry({ proxyAddresses: ['SMTP:m@contoso.edu'], targetAddress: 'm@live.contoso.edu' }));
    expect(contact.ok === true && contact.object).toMatchObject({ kind: 'contact', target: 'c@x.org' });
    expect(mailUser.ok === true && mailUser.object).toMatchObject({ kind: 'mailUser', target: 'm@live.contoso.edu' });
  });

  it.each([
    [{ proxyAddresses: ['SMTP:a@contoso.edu', 'SMTP:b@contoso.edu'] }, 'two primary SMTP: addresses ("a@contoso.edu" and "b@contoso.edu")'],
    [{ proxyAddresses: ['smtp:not an@address'] }, 'proxyAddresses value "smtp:not an@address" is not an address (invalid local part)'],
    [{ proxyAddresses: ['a@contoso.edu'] }, 'proxyAddresses value "a@contoso.edu" has no TYPE: prefix'],
    [
      { proxyAddresses: ['SMTP:a@contoso.edu'], targetAddress: 'SMTP:bad' },
      'targetAddress "SMTP:bad" is not an address (not local@domain)',
    ],
    [{ dn: ' ' }, 'no DN'],
  ])('refuses %j', (e, reason) => {
    expect(buildObject('corp', entry(e))).toEqual({ ok: false, reason });
  });

  it('skips entries that are not mail-enabled', () => {
    expect(buildObject('corp', entry({ proxyAddresses: ['X500:/o=x'] })).ok).toBe('skip');
  });

  it('skips a contact without targetAddress (not mail-enabled, SPEC §1): not an error', () => {
    expect(buildObject('corp', entry({ objectClass: ['contact'], proxyAddresses: ['SMTP:a@contoso.edu'] }))).toEqual({
      ok: 'skip',
      reason: 'not mail-enabled (contact without targetAddress)',
    });
  });

  it.each([['group'], ['msExchDynamicDistributionList'], ['publicFolder'], ['groupOfNames'], ['groupOfUniqueNames']])(
    'a mail-enabled %s is a group (routes like a mailbox); with targetAddress it keeps kind group and its target',
    (cls) => {
      const plain = buildObject('corp', entry({ objectClass: ['top', cls], proxyAddresses: ['SMTP:all@contoso.edu'] }));
      expect(plain).toMatchObject({ ok: true, object: { kind: 'group', target: undefined } });
      const targeted = buildObject('corp', entry({ objectClass: [cls], mail: 'g@contoso.edu', targetAddress: 'SMTP:g@live.contoso.edu' }));
      expect(targeted).toMatchObject({ ok: true, object: { kind: 'group', target: 'g@live.contoso.edu' } });
    },
  );
});

describe('rankKey (SPEC §3.1 winner order)', () => {
  const obj = (o: Partial<RecipientObject>): RecipientObject => ({
    source: 's',
    id: 'i',
    dn: 'CN=b',
    kind: 'mailbox',
    addresses: [],
    ...o,
  });
  const winner = (...c: [RecipientObject, number][]): RecipientObject =>
    ([...c].sort((a, b) => (rankKey(a[0], a[1]) < rankKey(b[0], b[1]) ? -1 : 1))[0] as [RecipientObject, number])[0];

  it('prefers higher source priority over everything else', () => {
    const low = obj({ kind: 'mailbox', dn: 'CN=a' });
    const high = obj({ kind: 'contact', dn: 'CN=z' });
    expect(winner([low, 5], [high, 10])).toBe(high);
    expect(winner([obj({ dn: 'CN=neg' }), -3], [obj({ dn: 'CN=zero' }), 0]).dn).toBe('CN=zero');
  });
  it('then mailbox before mail user before contact', () => {
    const c = obj({ kind: 'contact' });
    const u = obj({ kind: 'mailUser' });
    const m = obj({ kind: 'mailbox' });
    expect(winner([c, 1], [u, 1], [m, 1])).toBe(m);
    expect(winner([c, 1], [u, 1])).toBe(u);
  });
  it('then the older object (unknown creation time counts as newest), then DN order', () => {
    const old = obj({ created: '20100101000000.0Z', dn: 'CN=z' });
    const young = obj({ created: '20200101000000.0Z', dn: 'CN=a' });
    const unknown = obj({ dn: 'CN=0' });
    expect(winner([young, 1], [old, 1], [unknown, 1])).toBe(old);
    expect(winner([obj({ dn: 'CN=B' }), 1], [obj({ dn: 'cn=a' }), 1]).dn).toBe('cn=a');
  });
});

describe('GUID text form', () => {
  it('byte-swaps the first three groups and round-trips', () => {
    const bytes = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    expect(guidFromBytes(bytes)).toBe('33221100-5544-7766-8899-aabbccddeeff');
    expect(guidToBytes('33221100-5544-7766-8899-aabbccddeeff').equals(bytes)).toBe(true);
  });
});

describe('deletionGuard (SPEC §3.3)', () => {
  it('allows small removals and first imports', () => {
    expect(deletionGuard({ source: 's', previous: 1000, removed: 100, threshold: 500 })).toBeUndefined();
    expect(deletionGuard({ source: 's', previous: 0, removed: 0, threshold: 500 })).toBeUndefined();
  });
  it('refuses above 10 %, above the threshold, or emptying a source, saying how many and how to force', () => {
    expect(deletionGuard({ source: 's', previous: 1000, removed: 101, threshold: 500 })).toMatch(
      /101 of 1000 objects \(10\.1 %\) of source "s".*--allow-mass-delete/,
    );
    expect(deletionGuard({ source: 's', previous: 100_000, removed: 501, threshold: 500 })).toMatch(/deletionThreshold of 500/);
    expect(deletionGuard({ source: 's', previous: 3, removed: 3, threshold: 500 })).toMatch(/empty the source/);
  });
});

describe('LDAP mapping', async () => {
  const { foldRanges, searchFilter, adMapping, openldapMapping } = await import('../../src/directory/ldap/mapping.js');
  it('folds AD ranged attributes and lists the incomplete ones', () => {
    const r = foldRanges({
      dn: 'CN=x',
      'proxyAddresses;range=0-1499': ['smtp:a@x', 'smtp:b@x'],
      mail: 'a@x',
      'member;range=0-*': ['CN=y'],
    });
    expect(r.attrs.get('proxyaddresses')).toEqual(['smtp:a@x', 'smtp:b@x']);
    expect(r.attrs.get('member')).toEqual(['CN=y']);
    expect(r.pending).toEqual([{ attr: 'proxyAddresses', next: 1500 }]);
  });
  it('builds one search filter for full and delta reads: recipient classes, address presence or the change, the configured filter', () => {
    // users, contacts and mail-enabled groups, dynamic lists, public folders (SPEC §1), full and delta alike
    const classes =
      '(|(objectClass=user)(objectClass=contact)(objectClass=group)(objectClass=msExchDynamicDistributionList)(objectClass=publicFolder))';
    expect(searchFilter(adMapping, undefined)).toBe(`(&${classes}(|(proxyAddresses=*)(mail=*)))`);
    expect(searchFilter(adMapping, '(department=x)', '(uSNChanged>=43)')).toBe(`(&(uSNChanged>=43)${classes}(department=x))`);
    expect(searchFilter(openldapMapping, 'ou=x')).toBe('(&(|(mail=*)(mailAlternateAddress=*))(ou=x))');
    expect(searchFilter(openldapMapping, undefined, '(modifyTimestamp>=20260101000000Z)')).toBe('(modifyTimestamp>=20260101000000Z)');
    expect(searchFilter({ ...adMapping, recipientClasses: ['contact'] }, undefined, '(x=1)')).toBe('(&(x=1)(objectClass=contact))');
  });
  it('maps AD entries with the GUID as identity, and refuses entries without one', () => {
    const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const ok = adMapping.toEntry(
      'CN=x',
      new Map<string, (string | Buffer)[]>([
        ['objectguid', [guid]],
        ['proxyaddresses', ['SMTP:x@contoso.edu']],
        ['whencreated', ['20200101000000.0Z']],
      ]),
    );
    expect(ok).toMatchObject({
      entry: { id: '33221100-5544-7766-8899-aabbccddeeff', proxyAddresses: ['SMTP:x@contoso.edu'], created: '20200101000000Z' },
    });
    expect(adMapping.toEntry('CN=x', new Map())).toEqual({ error: 'no binary objectGUID (16 bytes)' });
  });
});
