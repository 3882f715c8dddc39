/**
 * The lean entry decoder against a real slapd (the committed fixtures plus entries added
 * here: non-ASCII names, a large multi-valued attribute spanning TLS records): a client
 * with it returns, page by page, exactly what a plain ldapts client returns, over
 * StartTLS and ldaps, with and without explicit buffer attributes; errors stay ldapts's.
 * When an ldapts upgrade changes what `toObject` gives, this test fails.
 */
import { readFileSync } from 'node:fs';
import { Attribute, Client, type MessageParser, NoSuchObjectError, type SearchOptions } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_DN, SERVICE_DN, SUFFIX, type EmbeddedSlapd } from '../../testkit/embedded-slapd.js';
import { useLeanDecoder } from '../../src/directory/ldap/ldapts-internals.js';
import { foldedRequest, leanAttributes } from '../../src/directory/ldap/folded-entry.js';
import { adMapping, foldRanges } from '../../src/directory/ldap/mapping.js';
import { searchEntries } from '../../src/directory/ldap/session.js';
import { fixtureSlapd } from '../helpers/slapd.js';

let slapd: EmbeddedSlapd & { cleanup(): Promise<void> };
const many = Array.from({ length: 2000 }, (_, i) => `smtp:alias-${i}-${'x'.repeat(20)}@contoso.edu`);

beforeAll(async () => {
  slapd = await fixtureSlapd();
  const admin = new Client({ url: slapd.ldapUrl });
  await admin.startTLS({ ca: [readFileSync(slapd.caFile)] });
  await admin.bind(ADMIN_DN, slapd.adminPassword);
  try {
    await admin.add(`cn=Zoë Ærøskøbing,ou=Staff,${SUFFIX}`, [
      new Attribute({ type: 'objectClass', values: ['user'] }),
      new Attribute({ type: 'cn', values: ['Zoë Ærøskøbing'] }),
      new Attribute({ type: 'sn', values: ['Ærøskøbing'] }),
      new Attribute({ type: 'displayName', values: ['Zoë 😀 Ærøskøbing'] }),
      new Attribute({ type: 'proxyAddresses', values: ['SMTP:zoe@contoso.edu', ...many] }),
      new Attribute({ type: 'objectGUID', values: [Buffer.from('00112233445566778899aabbccddeeff', 'hex')] }),
    ]);
  } finally {
    await admin.unbind();
  }
});
afterAll(async () => {
  await slapd?.cleanup();
});

/** Every page of a paged search, with or without the lean decoder; `kinds`: the entry classes parsed. */
async function pages(url: string, lean: boolean, options: SearchOptions, base = SUFFIX): Promise<{ pages: unknown[]; kinds: Set<string> }> {
  const ca = [readFileSync(slapd.caFile)];
  const client = new Client({ url, ...(url.startsWith('ldaps://') ? { tlsOptions: { ca } } : {}) });
  const kinds = new Set<string>();
  if (lean) useLeanDecoder(client);
  (client as unknown as { messageParser: MessageParser }).messageParser.on('message', (m) => kinds.add(m.constructor.name));
  try {
    if (url.startsWith('ldap://')) await client.startTLS({ ca });
    await client.bind(SERVICE_DN, slapd.servicePassword);
    const out: unknown[] = [];
    for await (const page of client.searchPaginated(base, options)) out.push(page);
    return { pages: out, kinds };
  } finally {
    await client.unbind();
  }
}

describe('lean entry decoder against slapd', () => {
  const searches: [string, SearchOptions][] = [
    [
      'the sync attributes, objectGUID binary',
      { attributes: [...adMapping.attributes], explicitBufferAttributes: ['objectGUID'], paged: { pageSize: 7 } },
    ],
    ['all attributes, none binary', { attributes: ['*', '+'], paged: { pageSize: 50 } }],
    ['requested attributes the entries lack', { attributes: ['cn', 'noSuchThing', 'mailRoutingAddress'], paged: { pageSize: 1000 } }],
  ];
  for (const url of ['ldapUrl', 'ldapsUrl'] as const) {
    for (const [what, options] of searches) {
      it(`${url === 'ldapUrl' ? 'StartTLS' : 'ldaps'}, ${what}: the same pages as ldapts's own decoder`, async () => {
        const theirs = await pages(slapd[url], false, options);
        const ours = await pages(slapd[url], true, options);
        expect(ours.pages).toStrictEqual(theirs.pages);
        expect(theirs.pages.length).toBeGreaterThan(0);
        expect(ours.kinds).toContain('LeanSearchEntry'); // decoded by the lean decoder, not handed back
        expect(theirs.kinds).not.toContain('LeanSearchEntry');
      });
    }
  }

  it('the large entry and the non-ASCII one come back whole', async () => {
    const {
      pages: [page],
    } = await pages(slapd.ldapUrl, true, {
      filter: '(cn=Zoë*)',
      attributes: ['cn', 'displayName', 'proxyAddresses', 'objectGUID'],
      explicitBufferAttributes: ['objectGUID'],
      paged: { pageSize: 10 },
    });
    const [entry] = (page as { searchEntries: Record<string, unknown>[] }).searchEntries;
    expect(entry).toMatchObject({ cn: 'Zoë Ærøskøbing', displayName: 'Zoë 😀 Ærøskøbing' });
    expect(entry?.proxyAddresses).toHaveLength(many.length + 1);
    expect(entry?.objectGUID).toStrictEqual(Buffer.from('00112233445566778899aabbccddeeff', 'hex'));
  });

  it('a search marked as the sync marks its own: every entry folded, as foldRanges folds ldapts’s object', async () => {
    const options = (attributes: string[]): SearchOptions => ({
      attributes,
      explicitBufferAttributes: ['objectGUID'],
      paged: { pageSize: 7 },
    });
    const theirs = await pages(slapd.ldapUrl, false, options([...adMapping.attributes]));
    const ours = await pages(slapd.ldapUrl, true, options(foldedRequest([...adMapping.attributes])));
    const entries = (p: unknown[]): Record<string, unknown>[] =>
      p.flatMap((page) => (page as { searchEntries: Record<string, unknown>[] }).searchEntries);
    const [want, got] = [entries(theirs.pages), entries(ours.pages)];
    expect(got.map((e) => e.dn)).toStrictEqual(want.map((e) => e.dn));
    expect(got.length).toBeGreaterThan(5);
    for (const [i, raw] of got.entries()) {
      const lean = leanAttributes(raw);
      expect(lean, String(raw.dn)).toBeDefined();
      expect(Object.keys(raw)).toEqual(['dn']);
      const folded = foldRanges(want[i] ?? {}).attrs;
      expect(lean).toStrictEqual(new Map([...folded].filter(([, v]) => v.length > 0)));
    }
    const zoe = got.find((e) => String(e.dn).startsWith('cn=Zoë'));
    expect(leanAttributes(zoe ?? {})?.get('proxyaddresses')).toHaveLength(many.length + 1);
  });

  it('the sync’s own searches (searchEntries) get folded entries: no empty fill for what an entry lacks', async () => {
    const client = new Client({ url: slapd.ldapUrl });
    useLeanDecoder(client);
    try {
      await client.startTLS({ ca: [readFileSync(slapd.caFile)] });
      await client.bind(SERVICE_DN, slapd.servicePassword);
      const seen: string[] = [];
      for await (const page of searchEntries(client, adMapping, SUFFIX, { scope: 'sub', filter: '(objectClass=user)', pageSize: 7 })) {
        for (const { dn, attrs } of page) {
          seen.push(dn);
          // ldapts's object fills every requested attribute an entry lacks with []; foldRanges keeps them
          expect(attrs.has('isdeleted'), dn).toBe(false);
          expect(attrs.get('objectclass'), dn).toContain('user');
        }
      }
      expect(seen.length).toBeGreaterThan(3);
      expect(seen).toContain(`cn=Zoë Ærøskøbing,ou=Staff,${SUFFIX}`);
    } finally {
      await client.unbind();
    }
  });

  it('a missing base is ldapts’s NoSuchObjectError, as without the decoder', async () => {
    await expect(pages(slapd.ldapUrl, true, { paged: { pageSize: 5 } }, `ou=Nowhere,${SUFFIX}`)).rejects.toBeInstanceOf(NoSuchObjectError);
    await expect(pages(slapd.ldapUrl, false, { paged: { pageSize: 5 } }, `ou=Nowhere,${SUFFIX}`)).rejects.toBeInstanceOf(NoSuchObjectError);
  });
});
