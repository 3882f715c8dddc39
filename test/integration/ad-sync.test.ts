/**
 * Full sync against a real Active Directory (Samba AD DC with the Exchange-style schema
 * extension): objectGUID as AD assigns it, disabled accounts, strong-auth binds.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Attribute, Change, Client } from 'ldapts';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { LdapSourceConfig } from '../../src/config/schema.js';
import { guidFromBytes } from '../../src/directory/guid.js';
import { readLdapDelta } from '../../src/directory/ldap/delta.js';
import { readAdWatermark, type Watermark } from '../../src/directory/ldap/watermark.js';
import type { DeltaItem } from '../../src/directory/items.js';
import { AD_BASE } from '../../testkit/embedded-samba.js';
import { syncSource } from '../../src/pipeline/sync-source.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import type { TestEnv } from '../helpers/env.js';
import { adminClient, cleanupAd, seededAd, type SeededAd, type SeededSamba } from '../helpers/samba.js';
import { readSourceReport, readSourceReports } from '../../src/store/source-report.js';
import { sourceReportsJson } from '../../src/report/source-reports.js';
import { formatSourceReports } from '../../src/cli/format.js';
import { createMetrics } from '../../src/metrics/metrics.js';

let dc: SeededSamba;
let env: TestEnv;
let secrets: SeededAd['secrets'];

beforeAll(async () => {
  ({ dc, env, secrets } = await seededAd());
}, 120_000);
afterAll(() => cleanupAd({ dc, env }));

const source = (patch: Partial<LdapSourceConfig> = {}): LdapSourceConfig => ({ ...(env.source('corp-ad') as LdapSourceConfig), ...patch });
/** The DC's watermark now (its rootDSE), as a delta reads it. */
async function watermarkNow(): Promise<Extract<Watermark, { mode: 'ad' }>> {
  const client = await adminClient(dc);
  try {
    return await readAdWatermark(client);
  } finally {
    await client.unbind();
  }
}

async function decide(address: string) {
  const resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
  return (await resolver.resolve([address], false))[0];
}

describe('full sync from a real AD (Samba)', () => {
  it("reads mailboxes, disabled room mailboxes, mail users and contacts; identity is AD's objectGUID", async () => {
    const r = await syncSource(env.deps, source(), { env: secrets });
    // Administrator, krbtgt and the service account have no SMTP address: not selected
    expect(r.counts).toMatchObject({ objects: 20, invalid: 0 });
    const client = await adminClient(dc);
    const { searchEntries } = await client.search(`CN=Ada Lovelace,OU=Staff,${AD_BASE}`, {
      scope: 'base',
      attributes: ['objectGUID'],
      explicitBufferAttributes: ['objectGUID'],
    });
    await client.unbind();
    const guid = guidFromBytes(searchEntries[0]?.objectGUID as Buffer);

    expect(await decide('ADA@contoso.edu')).toMatchObject({
      reason: 'mailbox',
      connector: 'onprem',
      object: { source: 'corp-ad', id: guid, dn: `CN=Ada Lovelace,OU=Staff,${AD_BASE}` },
    });
    expect(await decide('bwk@contoso.edu')).toMatchObject({
      reason: 'target-address',
      recipient: 'brian@live.contoso.edu',
      connector: 'cloud',
    });
    expect(await decide('room-101@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    expect(await decide('carol.partner@contoso.edu')).toMatchObject({
      reason: 'target-address',
      recipient: 'carol@partner.example',
      connector: 'internet',
    });
  });

  it('a simple bind over plain ldap:// is refused before the password is sent (SPEC §2.2); StartTLS on ldap:// works', async () => {
    const plain = await syncSource(env.deps, source({ url: dc.ldapUrl }), { env: secrets }).catch((e: unknown) => e);
    expect(plain).toMatchObject({ code: 'SY_LDAP_INSECURE', transient: false });
    expect((plain as Error).message).toMatch(
      /^source corp-ad: refused: a simple bind over plain ldap:\/\/ would send the password in clear/,
    );
    const tls = await syncSource(env.deps, source({ url: dc.ldapUrl, startTls: true }), { env: secrets });
    expect(tls.counts.objects).toBe(20);
  });

  it('delta: uSNChanged above the watermark and tombstones; each change visible, nothing else changes', async () => {
    const full = await syncSource(env.deps, source(), { env: secrets, mode: 'full' });
    const before = await decide('ADA@contoso.edu');
    const client = await adminClient(dc);
    try {
      await client.add(`CN=Dan Partner,OU=Contacts,${AD_BASE}`, {
        objectClass: 'contact',
        proxyAddresses: ['SMTP:dan@partner.example', 'smtp:dan.partner@contoso.edu'],
        targetAddress: 'SMTP:dan@partner.example',
      });
      await client.modify(
        `CN=Brian Kernighan,OU=Staff,${AD_BASE}`,
        new Change({
          operation: 'replace',
          modification: new Attribute({ type: 'targetAddress', values: ['SMTP:brian@elsewhere.example'] }),
        }),
      );
      await client.modify(
        `CN=Ada Lovelace,OU=Staff,${AD_BASE}`,
        new Change({ operation: 'delete', modification: new Attribute({ type: 'proxyAddresses', values: ['smtp:ada@contoso.edu'] }) }),
      );
      await client.del(`CN=Carol Partner,OU=Contacts,${AD_BASE}`);
    } finally {
      await client.unbind();
    }
    const r = await syncSource(env.deps, source(), { env: secrets, mode: 'delta' });
    expect(r).toMatchObject({ mode: 'delta', version: (full.version ?? 0) + 1, counts: { added: 1, changed: 2, removed: 1 } });
    expect(r.fallback).toBeUndefined();
    expect(await decide('dan.partner@contoso.edu')).toMatchObject({ reason: 'target-address', recipient: 'dan@partner.example' });
    expect(await decide('bwk@contoso.edu')).toMatchObject({
      reason: 'target-address',
      recipient: 'brian@elsewhere.example',
      connector: 'internet',
    });
    expect(await decide('ada@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    expect(await decide('ADA.lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox', object: before?.object });
    expect(await decide('carol.partner@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    expect(await decide('room-101@contoso.edu')).toMatchObject({ reason: 'mailbox' });

    // nothing changed since: a delta publishes nothing
    expect(await syncSource(env.deps, source(), { env: secrets, mode: 'delta' })).toMatchObject({ mode: 'delta', unchanged: true });
  });

  it('an idle delta poll reads the rootDSE and searches nothing (SPEC §2.2, §8 B5)', async () => {
    const src = source();
    const vars: Readonly<Record<string, string | undefined>> = secrets;
    const password = vars[src.bindPasswordEnv ?? ''];
    const read = async (since: Watermark): Promise<DeltaItem[]> => {
      const items: DeltaItem[] = [];
      for await (const page of readLdapDelta(src, since, {}, { password })) items.push(...page);
      return items;
    };
    // the reader runs in this thread here (a sync runs it on its directory thread), so the spy,
    // which passes every call through to the DC, sees its searches
    const searches = vi.spyOn(Client.prototype, 'searchPaginated');
    try {
      const before = await watermarkNow();
      await read({ ...before, usn: String(BigInt(before.usn) - 1n) });
      expect(searches).toHaveBeenCalledTimes(2); // the changes, the tombstones
      searches.mockClear();
      // now, after the bind user's first bind (which may stamp its lastLogonTimestamp, a change)
      const now = await watermarkNow();
      expect(await read(now)).toEqual([]);
      // unless the DC committed something of its own meanwhile, which a delta must then search for
      if ((await watermarkNow()).usn === now.usn) expect(searches).not.toHaveBeenCalled();
      else expect(searches).toHaveBeenCalledTimes(2);
    } finally {
      searches.mockRestore();
    }
  });

  it('delta falls back to a full sync when the DC is not the one of the watermark', async () => {
    const wm = JSON.parse((await env.redis.hget(env.keys.syncState, 'corp-ad')) as string) as Record<string, string>;
    await env.redis.hset(env.keys.syncState, 'corp-ad', JSON.stringify({ ...wm, invocationId: '00000000-0000-0000-0000-000000000000' }));
    const r = await syncSource(env.deps, source(), { env: secrets, mode: 'delta' });
    expect(r).toMatchObject({ mode: 'full', fallback: expect.stringMatching(/the DC changed/) });
    expect(JSON.parse((await env.redis.hget(env.keys.syncState, 'corp-ad')) as string)).toMatchObject({
      mode: 'ad',
      invocationId: wm.invocationId,
    });
  });
});

describe('mail-enabled groups from a real AD (SPEC §1)', () => {
  const groups = `OU=Groups,${AD_BASE}`;
  const route = { reason: 'mailbox', connector: 'onprem' };

  it('security and distribution groups, dynamic lists and public folders route as mailboxes; a contact without targetAddress is left out', async () => {
    const client = await adminClient(dc);
    try {
      await client.add(groups, { objectClass: 'organizationalUnit' });
      await client.add(`CN=Staff Security,${groups}`, {
        objectClass: 'group',
        sAMAccountName: 'staff-security',
        groupType: '-2147483646', // global security group
        mail: 'staff-sec@xo.one',
        proxyAddresses: ['SMTP:staff-sec@xo.one'],
      });
      await client.add(`CN=All Staff,${groups}`, {
        objectClass: 'group',
        sAMAccountName: 'all-staff',
        groupType: '2', // global distribution group
        proxyAddresses: ['SMTP:all-staff@xo.one', 'smtp:everyone@xo.one'],
        mailNickname: 'all-staff',
      });
      await client.add(`CN=Lab Users,${groups}`, {
        objectClass: 'msExchDynamicDistributionList',
        proxyAddresses: ['SMTP:lab-users@xo.one'],
        mail: 'lab-users@xo.one',
      });
      await client.add(`CN=Help Desk Folder,${groups}`, { objectClass: 'publicFolder', proxyAddresses: ['SMTP:helpdesk@xo.one'] });
      await client.add(`CN=Cloud List,${groups}`, {
        objectClass: 'group',
        sAMAccountName: 'cloud-list',
        groupType: '2',
        proxyAddresses: ['SMTP:cloud-list@xo.one'],
        targetAddress: 'SMTP:cloud-list@live.contoso.edu',
      });
      await client.add(`CN=No Target,OU=Contacts,${AD_BASE}`, { objectClass: 'contact', mail: 'no-target@xo.one' });
    } finally {
      await client.unbind();
    }
    const r = await syncSource(env.deps, source(), { env: secrets, mode: 'full' });
    expect(r.counts).toMatchObject({ invalid: 0 });
    expect(await decide('STAFF-SEC@xo.one')).toMatchObject({ ...route, object: { source: 'corp-ad', dn: `CN=Staff Security,${groups}` } });
    expect(await decide('all-staff@xo.one')).toMatchObject({ ...route, object: { dn: `CN=All Staff,${groups}` } });
    expect(await decide('everyone@xo.one')).toMatchObject({ ...route, object: { dn: `CN=All Staff,${groups}` } });
    expect(await decide('lab-users@xo.one')).toMatchObject({ ...route, object: { dn: `CN=Lab Users,${groups}` } });
    expect(await decide('helpdesk@xo.one')).toMatchObject({ ...route, object: { dn: `CN=Help Desk Folder,${groups}` } });
    expect(await decide('cloud-list@xo.one')).toMatchObject({
      reason: 'target-address',
      recipient: 'cloud-list@live.contoso.edu',
      connector: 'cloud',
    });
    const contact = await decide('no-target@xo.one');
    expect(contact?.object).toBeUndefined();
    expect(contact?.reason).not.toBe('mailbox');
  });

  it('delta: a group added and a group removed in AD are picked up; a contact without targetAddress is no error', async () => {
    const client = await adminClient(dc);
    try {
      await client.add(`CN=New Group,${groups}`, {
        objectClass: 'group',
        sAMAccountName: 'new-group',
        groupType: '2',
        proxyAddresses: ['SMTP:new-group@xo.one'],
      });
      await client.add(`CN=Late Contact,OU=Contacts,${AD_BASE}`, { objectClass: 'contact', mail: 'late-contact@xo.one' });
      await client.del(`CN=All Staff,${groups}`);
    } finally {
      await client.unbind();
    }
    const r = await syncSource(env.deps, source(), { env: secrets, mode: 'delta' });
    expect(r).toMatchObject({ mode: 'delta', counts: { added: 1, removed: 1, invalid: 0 } });
    expect(r.fallback).toBeUndefined();
    expect(await decide('new-group@xo.one')).toMatchObject({ ...route, object: { dn: `CN=New Group,${groups}` } });
    expect((await decide('all-staff@xo.one'))?.object).toBeUndefined();
    expect((await decide('late-contact@xo.one'))?.object).toBeUndefined();
    expect(await decide('staff-sec@xo.one')).toMatchObject(route);
  });
});

describe('a changed source setting makes the next sync full (SPEC §2.2)', () => {
  it('a changed baseDn: the next delta runs as a full sync; the one after is a delta again', async () => {
    await syncSource(env.deps, source(), { env: secrets, mode: 'full' });
    expect(await syncSource(env.deps, source(), { env: secrets, mode: 'delta' })).toMatchObject({ mode: 'delta' });
    const narrowed = source({ baseDn: `OU=Staff,${AD_BASE}` });
    // narrowing the base drops every object outside OU=Staff (the groups and contacts other
    // tests added): past the deletion guard on purpose, it is not what this test is about
    const r = await syncSource(env.deps, narrowed, { env: secrets, mode: 'delta', allowMassDelete: true });
    expect(r).toMatchObject({ mode: 'full', fallback: expect.stringMatching(/settings changed.*baseDn/) });
    expect(await decide('dan.partner@contoso.edu')).toMatchObject({ reason: 'internal-relay' }); // outside the new base
    expect(await syncSource(env.deps, narrowed, { env: secrets, mode: 'delta' })).toMatchObject({ mode: 'delta', unchanged: true });
    // and back: full again, the contact routes again
    const back = await syncSource(env.deps, source(), { env: secrets, mode: 'delta' });
    expect(back).toMatchObject({ mode: 'full', fallback: expect.stringMatching(/settings changed/) });
    expect(await decide('dan.partner@contoso.edu')).toMatchObject({ reason: 'target-address' });
  });
});

describe('a bad entry never stops an AD sync (SPEC §2.2)', () => {
  const BROKEN = `CN=Broken Proxy,OU=Staff,${AD_BASE}`;
  const TWO = `CN=Two Primaries,OU=Staff,${AD_BASE}`;
  const ADA = `CN=Ada Lovelace,OU=Staff,${AD_BASE}`;
  const setProxies = async (dn: string, values: string[]): Promise<void> => {
    const client = await adminClient(dc);
    try {
      await client.modify(dn, new Change({ operation: 'replace', modification: new Attribute({ type: 'proxyAddresses', values }) }));
    } finally {
      await client.unbind();
    }
  };

  it('skips malformed entries with their DN and reason; a published object turned invalid is held, then fixed', async () => {
    // Samba takes any string in proxyAddresses (Unicode String syntax): `SMTP:broken(at)x`
    // (no @, no domain) and two `SMTP:` primaries are both written as given.
    const client = await adminClient(dc);
    try {
      await client.add(BROKEN, { objectClass: 'user', sAMAccountName: 'broken', proxyAddresses: ['SMTP:broken(at)x'] });
      await client.add(TWO, {
        objectClass: 'user',
        sAMAccountName: 'twoprimaries',
        proxyAddresses: ['SMTP:two.a@contoso.edu', 'SMTP:two.b@contoso.edu'],
      });
    } finally {
      await client.unbind();
    }
    const full = await syncSource(env.deps, source(), { env: secrets, mode: 'full' });
    expect(full.version).toBeDefined();
    const skippedDns = (full.report?.skipped ?? []).map((e) => e.dn).sort();
    expect(skippedDns).toEqual([BROKEN, TWO].sort());
    const report = await readSourceReport(env.redis, env.keys, 'corp-ad');
    expect(report?.held).toEqual([]);
    expect(report?.skipped).toHaveLength(2);
    for (const e of report?.skipped ?? []) {
      expect(e).toMatchObject({ source: 'corp-ad', id: expect.stringMatching(/^[0-9a-f-]{36}$/), reason: expect.any(String) });
      expect(e.reason.length).toBeGreaterThan(0);
    }
    expect(await decide('two.a@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    expect(await decide('ADA.lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox', connector: 'onprem' });
    expect(await decide('staff3@contoso.edu')).toMatchObject({ reason: 'mailbox' });

    // Ada (published) turns invalid: two primaries. A delta keeps her routing, reports her held.
    const before = await decide('ADA.lovelace@contoso.edu');
    await setProxies(ADA, ['SMTP:Ada.Lovelace@contoso.edu', 'SMTP:ada.second@contoso.edu']);
    const delta = await syncSource(env.deps, source(), { env: secrets, mode: 'delta' });
    expect(delta.mode).toBe('delta');
    expect(delta.report?.held.map((e) => e.dn)).toEqual([ADA]);
    expect(await decide('ADA.lovelace@contoso.edu')).toEqual(before);
    expect(await decide('ada.second@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    let stored = await readSourceReport(env.redis, env.keys, 'corp-ad');
    expect(stored?.held.map((e) => e.dn)).toEqual([ADA]);
    // what status --json, the status page and the metrics show
    const reports = await readSourceReports(env.redis, env.keys);
    expect(sourceReportsJson(reports)).toMatchObject({
      held: [{ source: 'corp-ad', dn: ADA, reason: expect.stringMatching(/SMTP/) }],
      skipped: expect.arrayContaining([expect.objectContaining({ source: 'corp-ad', dn: BROKEN })]),
      sourceReports: { 'corp-ad': { skipped: 2, held: 1 } },
    });
    expect(formatSourceReports(reports)).toMatch(/corp-ad: 2 skipped, 1 held, \d+ not mail-enabled[\s\S]*held CN=Ada Lovelace/);
    const scrape = await createMetrics({ redis: env.redis, keys: env.keys }).registry.metrics();
    expect(scrape).toMatch(/^switchyard_source_skipped\{source="corp-ad"\} 2$/m);
    expect(scrape).toMatch(/^switchyard_source_held\{source="corp-ad"\} 1$/m);
    expect(scrape).toMatch(/^switchyard_source_not_mail_enabled\{source="corp-ad"\} \d+$/m);
    expect(stored?.skipped.map((e) => e.dn).sort()).toEqual([BROKEN, TWO].sort());

    // a full sync keeps her too (her published form is staged again)
    const again = await syncSource(env.deps, source(), { env: secrets, mode: 'full' });
    expect(again.report?.held.map((e) => e.dn)).toEqual([ADA]);
    expect(await decide('ADA.lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox', object: before?.object });

    // fixed again: normal, no longer held
    await setProxies(ADA, ['SMTP:Ada.Lovelace@contoso.edu', 'smtp:ada.second@contoso.edu']);
    await syncSource(env.deps, source(), { env: secrets, mode: 'delta' });
    expect(await decide('ada.second@contoso.edu')).toMatchObject({ reason: 'mailbox', object: before?.object });
    stored = await readSourceReport(env.redis, env.keys, 'corp-ad');
    expect(stored?.held).toEqual([]);
    expect(stored?.skipped).toHaveLength(2);
  });
});

describe('sync --dry-run --json (SPEC §3.4)', () => {
  it('delta and full: added, removed and changed objects with old → new fields, and the addresses; nothing published', async () => {
    const bin = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
    const cli = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [bin, ...args, '--config', env.configFile],
          { env: { ...process.env, REDIS_URL: '', ...secrets } },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
    await syncSource(env.deps, source(), { env: secrets, mode: 'full' });
    const version = (await decide('staff5@contoso.edu'))?.tableVersion;
    const brianBefore = (await decide('bwk@contoso.edu'))?.recipient;
    const EVE = `CN=Eve Partner,OU=Contacts,${AD_BASE}`;
    const BRIAN = `CN=Brian Kernighan,OU=Staff,${AD_BASE}`;
    const STAFF5 = `CN=Staff 5,OU=Staff,${AD_BASE}`;
    const client = await adminClient(dc);
    try {
      await client.add(EVE, {
        objectClass: 'contact',
        proxyAddresses: ['SMTP:eve@partner.example', 'smtp:eve.partner@contoso.edu'],
        targetAddress: 'SMTP:eve@partner.example',
      });
      await client.modify(
        BRIAN,
        new Change({ operation: 'replace', modification: new Attribute({ type: 'targetAddress', values: ['SMTP:brian@third.example'] }) }),
      );
      await client.del(STAFF5);
    } finally {
      await client.unbind();
    }
    for (const mode of [[], ['--full']]) {
      const r = await cli(['sync', 'corp-ad', ...mode, '--dry-run', '--json']);
      expect(r.code).toBe(0);
      expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
      const out = JSON.parse(r.stdout) as { mode: string; diff: Record<string, unknown> };
      expect(out.mode).toBe(mode.length === 0 ? 'delta' : 'full');
      expect(out).toMatchObject({
        dryRun: true,
        diff: {
          added: [EVE],
          removed: [STAFF5],
          changed: [{ dn: BRIAN, targetAddress: { old: brianBefore, new: 'brian@third.example' } }],
          newConflicts: [],
        },
      });
      expect((out.diff.addressesAdded as string[]).sort()).toEqual(['eve.partner@contoso.edu', 'eve@partner.example']);
      expect((out.diff.addressesRemoved as string[]).sort()).toEqual(['staff5.alt@contoso.edu', 'staff5@contoso.edu']);
      expect(await decide('staff5@contoso.edu')).toMatchObject({ reason: 'mailbox', tableVersion: version });
    }
  });
});
