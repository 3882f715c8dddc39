/**
 * The lean entry decoder (src/directory/ldap/ldapts-internals.ts) against a real Active
 * Directory (Samba AD DC): a large multi-valued attribute, a range request
 * (`proxyAddresses;range=1500-*`), objectGUID and non-ASCII text come back as ldapts gives
 * them, and a full read of the source (the sync's path) has every address. Samba answers
 * 1,701 values unranged (Windows AD would send `proxyAddresses;range=0-1499`): the folding
 * of ranged answers is tested on decoded bytes in test/unit/ldap-lean-decoder.test.ts.
 */
import { readFileSync } from 'node:fs';
import { Client, type SearchOptions } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapSourceConfig } from '../../src/config/schema.js';
import { useLeanDecoder } from '../../src/directory/ldap/ldapts-internals.js';
import { adMapping } from '../../src/directory/ldap/mapping.js';
import { readLdap } from '../../src/directory/ldap/reader.js';
import { AD_BASE } from '../../testkit/embedded-samba.js';
import type { TestEnv } from '../helpers/env.js';
import { adminClient, cleanupAd, seededAd, type SeededSamba } from '../helpers/samba.js';

let dc: SeededSamba;
let env: TestEnv;
const BIG = `CN=Big List,OU=Contacts,${AD_BASE}`;
const many = Array.from({ length: 1700 }, (_, i) => `smtp:big-${i}@contoso.edu`);

beforeAll(async () => {
  ({ dc, env } = await seededAd());
  const admin = await adminClient(dc);
  try {
    await admin.add(BIG, {
      objectClass: 'contact',
      proxyAddresses: ['SMTP:big@contoso.edu', ...many],
      targetAddress: 'SMTP:big@partner.example',
      displayName: 'Big Líst ✓',
    });
  } finally {
    await admin.unbind();
  }
}, 120_000);
afterAll(() => cleanupAd({ dc, env }));

async function search(lean: boolean, options: SearchOptions): Promise<unknown> {
  const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [readFileSync(dc.caFile)] } });
  if (lean) useLeanDecoder(client);
  try {
    await client.bind(dc.adminDn, dc.adminPassword);
    return await client.search(BIG, options);
  } finally {
    await client.unbind();
  }
}

describe('lean entry decoder against AD (Samba)', () => {
  it('1,701 values, a range request and objectGUID: the same result as ldapts', async () => {
    const options: SearchOptions = { scope: 'base', attributes: [...adMapping.attributes], explicitBufferAttributes: ['objectGUID'] };
    const theirs = (await search(false, options)) as { searchEntries: Record<string, unknown>[] };
    expect(await search(true, options)).toStrictEqual(theirs);
    const entry = theirs.searchEntries[0] ?? {};
    expect(entry.proxyAddresses).toHaveLength(many.length + 1);
    expect(entry.displayName).toBe('Big Líst ✓');
    expect(Buffer.isBuffer(entry.objectGUID)).toBe(true);
    const rest: SearchOptions = { scope: 'base', attributes: ['proxyAddresses;range=1500-*'] };
    expect(await search(true, rest)).toStrictEqual(await search(false, rest));
  });

  it('a full read of the source folds every range: all 1701 addresses', async () => {
    const source = env.source('corp-ad') as LdapSourceConfig;
    let big: readonly string[] | undefined;
    for await (const page of readLdap(source, { password: dc.servicePassword })) {
      for (const item of page) if ('entry' in item && item.entry.dn === BIG) big = item.entry.proxyAddresses;
    }
    expect(big).toHaveLength(many.length + 1);
    expect(new Set(big)).toStrictEqual(new Set(['SMTP:big@contoso.edu', ...many]));
  });
});
