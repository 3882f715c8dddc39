/**
 * The recipient fields later features need (issue 9 item 4): kind `group`, names,
 * mailNickname, legacyExchangeDN, hidden from address lists — read by the AD, OpenLDAP
 * and Csvde mappings, stored with short optional keys that leave older objects as they were.
 */
import { describe, expect, it } from 'vitest';
import { mapRow, parseHeader, type Header } from '../../src/directory/csvde/row.js';
import { adMapping, openldapMapping } from '../../src/directory/ldap/mapping.js';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import { buildObject, rankKey, type RecipientObject } from '../../src/routing/object.js';
import { decodeObject, encodeObject } from '../../src/store/codec.js';

const entry = (e: Partial<DirectoryEntry>): DirectoryEntry => ({ id: 'CN=x', dn: 'CN=x', objectClass: ['user'], proxyAddresses: [], ...e });
const built = (e: Partial<DirectoryEntry>): RecipientObject => {
  const r = buildObject('corp', entry(e));
  if (r.ok !== true) throw new Error(`not built: ${r.reason}`);
  return r.object;
};

describe('recipient object fields', () => {
  it('builds kind group from objectClass group, with or without a targetAddress', () => {
    expect(built({ objectClass: ['top', 'Group'], proxyAddresses: ['SMTP:staff@contoso.edu'] }).kind).toBe('group');
    const remote = built({ objectClass: ['group'], proxyAddresses: ['SMTP:g@contoso.edu'], targetAddress: 'SMTP:g@live.contoso.edu' });
    expect(remote).toMatchObject({ kind: 'group', target: 'g@live.contoso.edu' });
  });

  it('ranks a group with mailboxes, and a group with a targetAddress as a mail user', () => {
    const base = { source: 's', id: 'i', dn: 'CN=b', addresses: [] };
    const rank = (o: Partial<RecipientObject>) => rankKey({ ...base, kind: 'mailbox', ...o }, 1).split('|')[1];
    expect(rank({ kind: 'group' })).toBe(rank({ kind: 'mailbox' }));
    expect(rank({ kind: 'group', target: 'g@x.org' })).toBe(rank({ kind: 'mailUser', target: 'g@x.org' }));
    expect(rank({ kind: 'contact', target: 'c@x.org' })).toBe('2');
  });

  it('carries givenName, sn, cn, mailNickname, legacyExchangeDN, and hiding only when hidden', () => {
    const o = built({
      proxyAddresses: ['SMTP:ann@contoso.edu'],
      givenName: 'Ann',
      sn: 'Lee',
      cn: 'Ann Lee',
      mailNickname: 'ann',
      legacyExchangeDN: '/o=Contoso/ou=Exchange Administrative Group/cn=Recipients/cn=ann',
      hiddenFromAddressLists: true,
    });
    expect(o).toMatchObject({ givenName: 'Ann', sn: 'Lee', cn: 'Ann Lee', mailNickname: 'ann', hiddenFromAddressLists: true });
    expect(o.legacyExchangeDN).toMatch(/cn=ann$/);
    expect(built({ proxyAddresses: ['SMTP:b@contoso.edu'], hiddenFromAddressLists: false }).hiddenFromAddressLists).toBeUndefined();
  });
});

describe('stored form', () => {
  const plain: RecipientObject = {
    source: 's',
    id: 'g',
    dn: 'CN=a',
    kind: 'mailbox',
    addresses: ['a@contoso.edu'],
    primary: 'a@contoso.edu',
  };

  it('serialises an object without the new fields exactly as before', () => {
    expect(encodeObject(plain, 'R')).toBe('{"s":"s","i":"g","d":"CN=a","k":"mailbox","a":["a@contoso.edu"],"r":"R","p":"a@contoso.edu"}');
  });

  it('decodes an object stored before the fields existed', () => {
    const old = decodeObject('{"s":"s","i":"g","d":"CN=a","k":"mailUser","a":["a@contoso.edu"],"r":"R","t":"a@live.contoso.edu","n":"A"}');
    expect(old).toMatchObject({ kind: 'mailUser', target: 'a@live.contoso.edu', displayName: 'A' });
    expect(old.givenName).toBeUndefined();
    expect(old.hiddenFromAddressLists).toBeUndefined();
  });

  it('round-trips every new field under a short key, kind group included', () => {
    const full: RecipientObject = {
      ...plain,
      kind: 'group',
      givenName: 'G',
      sn: 'S',
      cn: 'C',
      mailNickname: 'm',
      legacyExchangeDN: '/o=X/cn=m',
      hiddenFromAddressLists: true,
    };
    const json = encodeObject(full, 'R');
    expect(JSON.parse(json)).toMatchObject({ k: 'group', gn: 'G', sn: 'S', cn: 'C', mn: 'm', x: '/o=X/cn=m', h: true });
    expect(decodeObject(json)).toEqual(full);
  });
});

describe('mappings read the new attributes when present', () => {
  const guid = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
  it('AD', () => {
    expect(adMapping.attributes).toEqual(
      expect.arrayContaining(['givenName', 'sn', 'cn', 'mailNickname', 'legacyExchangeDN', 'msExchHideFromAddressLists']),
    );
    const r = adMapping.toEntry(
      'CN=Ann Lee,DC=contoso,DC=edu',
      new Map<string, (string | Buffer)[]>([
        ['objectguid', [guid]],
        ['objectclass', ['top', 'group']],
        ['givenname', ['Ann']],
        ['sn', ['Lee']],
        ['cn', ['Ann Lee']],
        ['mailnickname', ['ann']],
        ['legacyexchangedn', ['/o=Contoso/cn=ann']],
        ['msexchhidefromaddresslists', ['TRUE']],
      ]),
    );
    expect(r).toMatchObject({
      entry: {
        givenName: 'Ann',
        sn: 'Lee',
        cn: 'Ann Lee',
        mailNickname: 'ann',
        legacyExchangeDN: '/o=Contoso/cn=ann',
        hiddenFromAddressLists: true,
      },
    });
    const bare = adMapping.toEntry('CN=x', new Map<string, (string | Buffer)[]>([['objectguid', [guid]]]));
    expect('entry' in bare && bare.entry).toMatchObject({ givenName: undefined, hiddenFromAddressLists: undefined });
  });

  it('OpenLDAP (inetOrgPerson names)', () => {
    const r = openldapMapping.toEntry(
      'uid=ann,dc=x',
      new Map<string, (string | Buffer)[]>([
        ['entryuuid', ['u-1']],
        ['givenname', ['Ann']],
        ['sn', ['Lee']],
        ['cn', ['Ann Lee']],
      ]),
    );
    expect(r).toMatchObject({ entry: { givenName: 'Ann', sn: 'Lee', cn: 'Ann Lee', displayName: 'Ann Lee' } });
  });

  it('Csvde, columns of the same names in any case', () => {
    const parsed = parseHeader([
      'DN',
      'objectClass',
      'proxyAddresses',
      'GIVENNAME',
      'sn',
      'cn',
      'mailNickname',
      'legacyExchangeDN',
      'msExchHideFromAddressLists',
    ]);
    if (!parsed.ok) throw new Error(parsed.reason);
    const header: Header = parsed.header;
    const row = mapRow(
      header,
      ['CN=Ann,DC=x', 'group', 'SMTP:ann@contoso.edu', 'Ann', 'Lee', 'Ann Lee', 'ann', '/o=X/cn=ann', 'TRUE'],
      'f.csv:2',
    );
    expect(row).toMatchObject({
      ok: true,
      entry: {
        givenName: 'Ann',
        sn: 'Lee',
        cn: 'Ann Lee',
        mailNickname: 'ann',
        legacyExchangeDN: '/o=X/cn=ann',
        hiddenFromAddressLists: true,
      },
    });
    const notHidden = mapRow(header, ['CN=B,DC=x', 'user', 'SMTP:b@contoso.edu', '', '', '', '', '', 'FALSE'], 'f.csv:3');
    expect(notHidden).toMatchObject({ ok: true, entry: { givenName: undefined, hiddenFromAddressLists: false } });
  });
});
