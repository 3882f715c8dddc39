/**
 * `contacts export` (SPEC §10) from a Csvde source and from an LDAP source in the table:
 * the csvde file (UTF-8 and --unicode UTF-16LE) read back by the project's own Csvde reader
 * gives the same contacts; the LDIF applied with `ldapmodify` to slapd (AD-like schema)
 * creates them. Names with `,` `"` `+` and non-ASCII letters survive both formats.
 */
import { execFile } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import { Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { contactFor, exported, type Contact } from '../../src/contacts/contact.js';
import { exportContacts, type ExportOptions } from '../../src/contacts/export.js';
import { firstRdnValue } from '../../src/contacts/rdn.js';
import { readCsvde } from '../../src/directory/csvde/reader.js';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import { parseMarker } from '../../src/routing/marker.js';
import type { RecipientObject } from '../../src/routing/object.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { syncSource } from '../../src/pipeline/sync-source.js';
import { sourceObjects } from '../../src/store/source-objects.js';
import { ADMIN_DN } from '../../testkit/embedded-slapd.js';
import { testEnv, type TestEnv } from '../helpers/env.js';
import { fixtureSlapd, slapdSource } from '../helpers/slapd.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'sy-export-'));
const OU = 'OU=Cloud Contacts,DC=contoso,DC=edu';
const ROUTING = 'onprem.contoso.edu';
let env: TestEnv;
let slapd: Awaited<ReturnType<typeof fixtureSlapd>>;

const CSV = [
  'objectClass,DN,displayName,givenName,sn,mailNickname,proxyAddresses,mail,targetAddress,legacyExchangeDN,msExchHideFromAddressLists',
  'user,"CN=Ada,OU=Staff,DC=corp","Lovelace, Ada ""The"" + Countess",Ada,Lovelace,ada,SMTP:ada@contoso.edu;smtp:ada@onprem.contoso.edu;smtp:al@contoso.edu,ada@contoso.edu,,/o=Contoso/ou=Exchange Administrative Group/cn=Recipients/cn=ada,',
  'user,"CN=Zoe,OU=Staff,DC=corp",Zoë Ñúñez,Zoë,Ñúñez,zoe,SMTP:zoe@contoso.edu,,,,TRUE',
  'user,"CN=Same 1,OU=Staff,DC=corp",Same Name,,Same,same1,SMTP:same1@contoso.edu,,,,',
  'user,"CN=Same 2,OU=Staff,DC=corp",Same Name,,Same,same2,SMTP:same2@contoso.edu,,,,',
  'user,"CN=Moved,OU=Staff,DC=corp",Moved User,,User,moved,SMTP:moved@contoso.edu,,SMTP:moved@live.contoso.edu,,',
  'contact,"CN=Partner,OU=Staff,DC=corp",Partner,,Partner,partner,SMTP:p@partner.example,,SMTP:p@partner.example,,',
  'group,"CN=Staff List,OU=Staff,DC=corp",Staff List,,List,staff,SMTP:staff@contoso.edu,,,,',
].join('\r\n');

beforeAll(async () => {
  slapd = await fixtureSlapd();
  env = await testEnv((raw) => {
    raw.sources = [(raw.sources as { name: string }[]).find((s) => s.name === 'corp'), slapdSource(slapd)];
  });
  const file = join(dir, 'corp.csv');
  writeFileSync(file, CSV);
  await importCsvde(env.deps, env.source('corp'), file);
  await syncSource(env.deps, env.source('corp-ad'), { env: { SY_TEST_LDAP_PASSWORD: slapd.servicePassword }, mode: 'full' });
}, 60_000);
afterAll(async () => {
  await env?.cleanup();
  await slapd?.cleanup();
});

async function tableObjects(source: string): Promise<RecipientObject[]> {
  const out: RecipientObject[] = [];
  for await (const batch of sourceObjects(env.redis, env.keys, source, 3)) out.push(...batch);
  return out;
}

async function exportTo(file: string, source: string, opts: Partial<ExportOptions> = {}) {
  const out = createWriteStream(file);
  const r = await exportContacts(sourceObjects(env.redis, env.keys, source, 3), out, {
    routingDomain: ROUTING,
    ou: OU,
    format: 'csvde',
    ...opts,
  });
  out.end();
  await finished(out);
  return r;
}

async function readBack(file: string): Promise<DirectoryEntry[]> {
  const out: DirectoryEntry[] = [];
  for await (const batch of readCsvde(file)) for (const item of batch) if ('entry' in item) out.push(item.entry);
  return out;
}

/** A read-back entry in the shape of the contact it should be. */
function asContact(e: DirectoryEntry): Omit<Contact, 'name'> & { cn: string } {
  const origin = parseMarker(e.marker);
  return {
    source: origin?.source ?? '',
    id: origin?.id ?? '',
    cn: firstRdnValue(e.dn),
    displayName: e.displayName ?? '',
    givenName: e.givenName,
    sn: e.sn,
    mailNickname: e.mailNickname ?? '',
    proxyAddresses: e.proxyAddresses,
    mail: e.mail ?? '',
    targetAddress: e.targetAddress ?? '',
    hidden: e.hiddenFromAddressLists === true,
    marker: e.marker ?? '',
  };
}

function expected(objects: readonly RecipientObject[]) {
  return objects
    .filter(exported)
    .map((o) => contactFor(o, ROUTING))
    .map(({ name, ...c }) => ({
      ...c,
      cn: expect.stringMatching(new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?: \\(\\d+\\))?$`)),
    }));
}

const byId = <T extends { id: string }>(xs: T[]): T[] => [...xs].sort((a, b) => (a.id < b.id ? -1 : 1));

describe('contacts export', () => {
  it('csvde from a Csvde source: mailboxes and groups only; the own reader reads back the same contacts', async () => {
    const file = join(dir, 'contacts.csv');
    const r = await exportTo(file, 'corp');
    expect(r).toEqual({ exported: 5, left: 2 });
    const back = (await readBack(file)).map(asContact);
    expect(byId(back)).toEqual(byId(expected(await tableObjects('corp'))));
    const ada = back.find((c) => c.mailNickname === 'ada');
    expect(ada).toMatchObject({
      cn: 'Lovelace, Ada "The" + Countess',
      targetAddress: 'SMTP:ada@onprem.contoso.edu',
      proxyAddresses: [
        'SMTP:ada@contoso.edu',
        'smtp:ada@onprem.contoso.edu',
        'smtp:al@contoso.edu',
        'X500:/o=Contoso/ou=Exchange Administrative Group/cn=Recipients/cn=ada',
      ],
    });
    expect(back.find((c) => c.mailNickname === 'zoe')).toMatchObject({
      cn: 'Zoë Ñúñez',
      hidden: true,
      targetAddress: 'SMTP:zoe@onprem.contoso.edu',
    });
    expect(
      back
        .filter((c) => c.displayName === 'Same Name')
        .map((c) => c.cn)
        .sort(),
    ).toEqual(['Same Name', 'Same Name (2)']);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('DN,objectClass,cn,name,')).toBe(true);
    // RFC 4514 escapes inside, csvde's doubled quotes outside
    expect(text).toContain(String.raw`"CN=Lovelace\, Ada \""The\"" \+ Countess,OU=Cloud Contacts,DC=contoso,DC=edu"`);
  });

  it('--unicode writes UTF-16LE with a BOM, read back the same', async () => {
    const utf8 = join(dir, 'u8.csv');
    const utf16 = join(dir, 'u16.csv');
    await exportTo(utf8, 'corp');
    await exportTo(utf16, 'corp', { unicode: true });
    const raw = readFileSync(utf16);
    expect([...raw.subarray(0, 2)]).toEqual([0xff, 0xfe]);
    expect(raw.subarray(2).toString('utf16le')).toBe(readFileSync(utf8, 'utf8'));
    expect((await readBack(utf16)).map(asContact)).toEqual((await readBack(utf8)).map(asContact));
  });

  it('csvde from an LDAP source (the CLI, to a file)', async () => {
    const file = join(dir, 'from-ldap.csv');
    const code = await main([
      'node',
      'switchyard',
      'contacts',
      'export',
      '--from',
      'corp-ad',
      '--routing-domain',
      ROUTING,
      '--ou',
      OU,
      '--out',
      file,
      '--config',
      env.configFile,
    ]);
    expect(code).toBe(0);
    const back = (await readBack(file)).map(asContact);
    const want = expected(await tableObjects('corp-ad'));
    expect(want.length).toBeGreaterThan(10);
    expect(byId(back)).toEqual(byId(want));
  });

  it('LDIF applied with ldapmodify to slapd creates the contacts', async () => {
    const file = join(dir, 'contacts.ldif');
    await exportTo(file, 'corp', { format: 'ldif' });
    const text = readFileSync(file, 'utf8');
    expect(text).toContain('changetype: add');
    const client = new Client({ url: slapd.ldapUrl });
    await client.bind(ADMIN_DN, slapd.adminPassword);
    try {
      await client.add(OU, { objectClass: 'organizationalUnit', ou: 'Cloud Contacts' });
      await run('ldapmodify', ['-x', '-H', slapd.ldapUrl, '-D', ADMIN_DN, '-w', slapd.adminPassword, '-f', file]);
      const { searchEntries } = await client.search(OU, { scope: 'one', filter: '(objectClass=contact)', attributes: ['*'] });
      expect(searchEntries).toHaveLength(5);
      const byNick = new Map(searchEntries.map((e) => [String(e.mailNickname), e]));
      expect(firstRdnValue(byNick.get('ada')?.dn ?? '')).toBe('Lovelace, Ada "The" + Countess');
      expect(byNick.get('ada')).toMatchObject({
        displayName: 'Lovelace, Ada "The" + Countess',
        targetAddress: 'SMTP:ada@onprem.contoso.edu',
      });
      expect(byNick.get('zoe')).toMatchObject({ cn: 'Zoë Ñúñez', sn: 'Ñúñez', msExchHideFromAddressLists: 'TRUE' });
      expect(byNick.get('staff')?.adminDescription).toMatch(/^switchyard-galsync:corp:CN=Staff List,OU=Staff,DC=corp$/);
    } finally {
      await client.unbind();
    }
  });
});
