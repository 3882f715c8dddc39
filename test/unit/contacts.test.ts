/**
 * The pure parts of GAL sync (SPEC §10): which objects get a contact and what it holds,
 * RFC 4514 DNs with ` (n)` on collisions, the csvde and LDIF records, and the apply plan
 * (only managed contacts change; an address held by a non-managed object is a conflict).
 */
import { describe, expect, it } from 'vitest';
import { contactFor, exported } from '../../src/contacts/contact.js';
import { csvdeLine, ldifRecord } from '../../src/contacts/formats.js';
import { planApply, type OuEntry } from '../../src/contacts/plan.js';
import { contactDn, escapeRdnValue, firstRdnValue, NameAllocator } from '../../src/contacts/rdn.js';
import type { RecipientObject } from '../../src/routing/object.js';

const OU = 'OU=Cloud Contacts,DC=contoso,DC=edu';
const mailbox = (o: Partial<RecipientObject> = {}): RecipientObject => ({
  source: 'cloud',
  id: 'id-1',
  dn: 'CN=Ada,OU=Users',
  kind: 'mailbox',
  primary: 'ada@contoso.edu',
  addresses: ['ada@contoso.edu', 'al@contoso.edu'],
  displayName: 'Ada Lovelace',
  mailNickname: 'ada',
  ...o,
});

describe('the contact for an object', () => {
  it('exports mailboxes and groups without targetAddress only', () => {
    expect(exported(mailbox())).toBe(true);
    expect(exported(mailbox({ kind: 'group' }))).toBe(true);
    expect(exported(mailbox({ kind: 'group', target: 'g@x.org' }))).toBe(false);
    expect(exported(mailbox({ kind: 'mailUser', target: 'a@live.contoso.edu' }))).toBe(false);
    expect(exported(mailbox({ kind: 'contact', target: 'a@x.org' }))).toBe(false);
  });

  it('keeps the primary primary, adds X500 from legacyExchangeDN, keeps hiding, marks its origin', () => {
    const c = contactFor(mailbox({ legacyExchangeDN: '/o=Contoso/cn=ada', hiddenFromAddressLists: true }), 'live.contoso.edu');
    expect(c).toMatchObject({
      proxyAddresses: ['SMTP:ada@contoso.edu', 'smtp:al@contoso.edu', 'X500:/o=Contoso/cn=ada'],
      mail: 'ada@contoso.edu',
      hidden: true,
      marker: 'switchyard-galsync:cloud:id-1',
      displayName: 'Ada Lovelace',
    });
  });

  it('targetAddress: its address in the routing domain, else mailNickname@DOMAIN', () => {
    expect(contactFor(mailbox(), 'live.contoso.edu').targetAddress).toBe('SMTP:ada@live.contoso.edu');
    const withOwn = mailbox({ addresses: ['ada@contoso.edu', 'Ada.L@Live.Contoso.edu'] });
    expect(contactFor(withOwn, 'live.contoso.edu').targetAddress).toBe('SMTP:Ada.L@Live.Contoso.edu');
    // no mailNickname: the primary's local part
    expect(contactFor(mailbox({ mailNickname: undefined }), 'x.org')).toMatchObject({
      mailNickname: 'ada',
      targetAddress: 'SMTP:ada@x.org',
    });
  });
});

describe('DNs', () => {
  it('escapes as RFC 4514 says and reads the value back', () => {
    for (const name of ['Lovelace, Ada', 'Ada "The" + Countess', ' lead', '#hash', 'trail ', 'a=b;c<d>e\\f', 'Zoë Ñúñez']) {
      const dn = contactDn(name, OU);
      expect(firstRdnValue(dn)).toBe(name);
      expect(dn.endsWith(`,${OU}`)).toBe(true);
    }
    expect(escapeRdnValue('Lovelace, Ada "The" + Countess')).toBe('Lovelace\\, Ada \\"The\\" \\+ Countess');
    expect(firstRdnValue('CN=Zo\\C3\\AB,OU=x')).toBe('Zoë');
  });

  it('adds (n) to a name already taken, ignoring case, within 64 characters', () => {
    const names = new NameAllocator();
    names.reserve('same name');
    expect(names.allocate('Same Name')).toBe('Same Name (2)');
    expect(names.allocate('Same Name')).toBe('Same Name (3)');
    const long = 'x'.repeat(70);
    expect(names.allocate(long)).toHaveLength(64);
    expect(names.allocate(long)).toBe(`${'x'.repeat(60)} (2)`);
  });

  it('allocates a name once among 200,000, ignoring case, after the names reserved', () => {
    const names = new NameAllocator();
    for (let i = 0; i < 100_000; i++) names.reserve(`Person ${i}`);
    const given = new Set<string>();
    for (let i = 0; i < 100_000; i++) given.add(names.allocate(i % 2 === 0 ? `PERSON ${i}` : `Someone ${i}`).toLowerCase());
    expect(given.size).toBe(100_000);
    expect(given.has('person 0 (2)')).toBe(true); // reserved, in another case
    expect(given.has('someone 1')).toBe(true);
    expect(names.allocate('someone 1')).toBe('someone 1 (2)'); // allocated before
    expect(names.allocate('Person 100000')).toBe('Person 100000'); // never reserved
  });
});

describe('records', () => {
  const placed = {
    dn: contactDn('Lovelace, Ada', OU),
    cn: 'Lovelace, Ada',
    contact: contactFor(mailbox({ displayName: 'Lovelace, Ada' }), 'x.org'),
  };
  it('csvde: DN quoted, values with , quoted, multi-values joined with ;, CRLF', () => {
    expect(csvdeLine(placed)).toBe(
      '"CN=Lovelace\\, Ada,OU=Cloud Contacts,DC=contoso,DC=edu",contact,"Lovelace, Ada","Lovelace, Ada","Lovelace, Ada",,,ada,"SMTP:ada@contoso.edu;smtp:al@contoso.edu",ada@contoso.edu,SMTP:ada@x.org,,switchyard-galsync:cloud:id-1\r\n',
    );
  });
  it('LDIF: an add record, non-ASCII values base64, no name attribute', () => {
    const zoe = { dn: contactDn('Zoë', OU), cn: 'Zoë', contact: contactFor(mailbox({ displayName: 'Zoë' }), 'x.org') };
    const text = ldifRecord(zoe);
    expect(text.startsWith(`dn:: ${Buffer.from(zoe.dn).toString('base64')}\nchangetype: add\nobjectClass: contact\n`)).toBe(true);
    expect(text).toContain(`cn:: ${Buffer.from('Zoë').toString('base64')}\n`);
    expect(text).not.toMatch(/^name:/m);
    expect(text.endsWith('\n\n')).toBe(true);
  });
});

function entry(dn: string, attrs: Record<string, string | string[]>): OuEntry {
  return {
    dn,
    cn: firstRdnValue(dn),
    attrs: new Map(Object.entries(attrs).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v : [v]])),
  };
}

/** What apply wrote for `c`, as read back. */
function written(o: RecipientObject, cn = o.displayName ?? ''): OuEntry {
  const c = contactFor(o, 'x.org');
  return entry(contactDn(cn, OU), {
    objectClass: ['top', 'person', 'contact'],
    displayName: c.displayName,
    mailNickname: c.mailNickname,
    proxyAddresses: [...c.proxyAddresses],
    mail: c.mail,
    targetAddress: c.targetAddress,
    adminDescription: c.marker,
  });
}

describe('apply plan', () => {
  const ada = mailbox();
  const bob = mailbox({ id: 'id-2', displayName: 'Bob', primary: 'bob@contoso.edu', addresses: ['bob@contoso.edu'], mailNickname: 'bob' });
  const plan = (wanted: RecipientObject[], ouEntries: OuEntry[], holders = new Map<string, string>()) =>
    planApply({ from: 'cloud', ou: OU, wanted: wanted.map((o) => contactFor(o, 'x.org')), ouEntries, holders });

  it('adds what is missing and changes nothing that is right', () => {
    const p = plan([ada, bob], [written(ada)]);
    expect(p.adds.map((a) => a.dn)).toEqual([contactDn('Bob', OU)]);
    expect(p).toMatchObject({ unchanged: 1, modifies: [], renames: [], deletes: [] });
  });

  it('modifies changed attributes, renames a changed name, keeps a (n) name', () => {
    const p = plan(
      [
        { ...ada, addresses: ['ada@contoso.edu'] },
        { ...bob, displayName: 'Robert' },
      ],
      [written(ada), written(bob)],
    );
    expect(p.modifies).toEqual([
      { dn: contactDn('Ada Lovelace', OU), changes: [['proxyAddresses', ['SMTP:ada@contoso.edu']]] },
      // the renamed one is modified at its new DN
      { dn: contactDn('Robert', OU), changes: [['displayName', ['Robert']]] },
    ]);
    expect(p.renames).toEqual([{ dn: contactDn('Bob', OU), newCn: 'Robert', newDn: contactDn('Robert', OU) }]);
    expect(plan([ada], [written(ada, 'Ada Lovelace (2)')])).toMatchObject({ unchanged: 1, renames: [] });
    // a name over 64 characters, cut as apply cut it: no rename run after run
    const long = { ...ada, displayName: 'L'.repeat(80) };
    expect(plan([long], [written(long, 'L'.repeat(64))])).toMatchObject({ unchanged: 1, renames: [] });
    expect(plan([long], [written(long, `${'L'.repeat(60)} (2)`)])).toMatchObject({ unchanged: 1, renames: [] });
  });

  it('deletes only managed contacts of this direction; never an unmarked one or another direction', () => {
    const other = entry(contactDn('Other', OU), { objectClass: 'contact', adminDescription: 'switchyard-galsync:elsewhere:id-9' });
    const hand = entry(contactDn('Hand', OU), { objectClass: 'contact', proxyAddresses: 'SMTP:h@contoso.edu' });
    const p = plan([ada], [written(ada), written(bob), other, hand]);
    expect(p.deletes).toEqual([contactDn('Bob', OU)]);
    expect(p).toMatchObject({ managed: 2, managedAddresses: 3, removedAddresses: 1 });
  });

  it('an address a non-managed object holds is a conflict naming both DNs, not an add', () => {
    const p = plan([ada, bob], [], new Map([['al@contoso.edu', 'CN=Hand,OU=Other']]));
    expect(p.adds.map((a) => a.cn)).toEqual(['Bob']);
    expect(p.conflicts).toEqual([
      {
        address: 'al@contoso.edu',
        contactDn: contactDn('Ada Lovelace', OU),
        holderDn: 'CN=Hand,OU=Other',
        origin: expect.objectContaining({ id: 'id-1' }),
      },
    ]);
  });

  it('a new name taken by anything in the OU gets (n)', () => {
    const p = plan([bob], [entry(contactDn('Bob', OU), { objectClass: 'contact' })]);
    expect(p.adds.map((a) => a.cn)).toEqual(['Bob (2)']);
  });
});
