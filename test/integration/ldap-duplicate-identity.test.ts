/**
 * A first LDAP sync (no published state: most objects are written without stage.lua,
 * src/store/fresh-stage.ts) of a directory where two entries share an objectGUID, against a
 * real slapd with the project's AD-like schema: the repeated identity still goes through
 * stage.lua, which refuses it (SPEC §2.2: a bad entry is skipped and reported, never stops
 * the sync), so the later entry never overwrites the earlier one.
 */
import { Attribute, Client } from 'ldapts';
import { expect, it } from 'vitest';
import { syncSource } from '../../src/pipeline/sync-source.js';
import { ADMIN_DN } from '../../testkit/embedded-slapd.js';
import { slapdTestEnv } from '../helpers/slapd.js';

const t = slapdTestEnv();

it('a first sync where two entries share an objectGUID: the later one is skipped and reported, never written over the earlier (SPEC §2.2)', async () => {
  // a source's first sync writes most objects without stage.lua (src/store/fresh-stage.ts):
  // the repeated identity must still go through it and be refused there
  const twin = 'CN=Twin\\, Ada,OU=Staff,DC=contoso,DC=edu';
  const admin = new Client({ url: t.slapd.ldapUrl });
  await admin.bind(ADMIN_DN, t.slapd.adminPassword);
  try {
    const text = {
      objectClass: 'user',
      cn: 'Twin, Ada',
      sn: 'Twin',
      proxyAddresses: 'SMTP:ada.twin@contoso.edu',
      mail: 'ada.twin@contoso.edu',
      uSNChanged: '5000',
      whenCreated: '20200101093000Z',
      userAccountControl: '512',
    };
    await admin.add(twin, [
      ...Object.entries(text).map(([type, value]) => new Attribute({ type, values: [value] })),
      new Attribute({ type: 'objectGUID', values: [Buffer.from('AACeNwEjRWeJq83vASNFZw==', 'base64')] }), // Ada Lovelace's
    ]);
  } finally {
    await admin.unbind();
  }
  // a dry run of the source's first sync: the first-staging path, and its whole diff reported
  const r = await syncSource(t.env.deps, t.env.source('corp-ad'), { env: t.secrets, dryRun: true });
  const ada = '379e0000-2301-6745-89ab-cdef01234567';
  expect(r.counts).toMatchObject({ objects: 267, added: 267, invalid: 1, conflicts: 1 });
  expect(r.report?.skipped).toEqual([
    {
      source: 'corp-ad',
      id: ada,
      dn: expect.stringMatching(/^cn=Twin\\2C Ada,ou=Staff/i),
      reason: `duplicate object identity "${ada}" (an earlier entry has it)`,
    },
  ]);
  expect(r.diff?.added).toContain('cn=Lovelace\\2C Ada,ou=Staff,dc=contoso,dc=edu');
  expect(r.diff?.addressesAdded).toContain('ada.lovelace@contoso.edu');
  expect(r.diff?.addressesAdded).not.toContain('ada.twin@contoso.edu');
});
