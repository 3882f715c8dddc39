/**
 * Full LDAP sync against a real slapd (the project's AD-like schema, committed LDIF
 * fixtures, a test CA) into a real Redis (SPEC §2.2 full sync, §3 publish path).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_DN, SERVICE_DN, makeTestCa } from '../../testkit/embedded-slapd.js';
import { Attribute, Change, Client } from 'ldapts';
import type { EmbeddedSlapd } from '../../testkit/embedded-slapd.js';
import { LdapSourceError } from '../../src/directory/ldap/errors.js';
import { readLdap } from '../../src/directory/ldap/reader.js';
import { publishSource } from '../../src/pipeline/publish-source.js';
import { syncSource } from '../../src/pipeline/sync-source.js';
import { DeletionGuardError } from '../../src/pipeline/errors.js';
import type { LdapSourceConfig } from '../../src/config/schema.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { lookup, readCurrent } from '../../src/store/table.js';
import { testEnv, type TestEnv } from '../helpers/env.js';
import { fixtureSlapd, slapdSource } from '../helpers/slapd.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let slapd: EmbeddedSlapd & { cleanup(): Promise<void> };
let env: TestEnv;
const secrets = { SY_TEST_LDAP_PASSWORD: '' };

beforeAll(async () => {
  slapd = await fixtureSlapd();
  secrets.SY_TEST_LDAP_PASSWORD = slapd.servicePassword;
  env = await testEnv((raw) => {
    (raw.sources as unknown[]).push(slapdSource(slapd, { priority: 20 }), {
      name: 'people',
      type: 'ldap',
      mapping: 'openldap',
      url: slapd.ldapUrl,
      startTls: true,
      caFile: slapd.caFile,
      bindDn: SERVICE_DN,
      bindPasswordEnv: 'SY_TEST_LDAP_PASSWORD',
      baseDn: 'ou=People,dc=contoso,dc=edu',
      mailboxConnector: 'onprem',
    });
  });
});
afterAll(async () => {
  await env?.cleanup();
  await slapd?.cleanup();
});

const ldapSource = (name: string, patch: Partial<LdapSourceConfig> = {}): LdapSourceConfig => ({
  ...(env.source(name) as LdapSourceConfig),
  ...patch,
});
const sync = (source: LdapSourceConfig, opts: { mode?: 'full' | 'delta'; dryRun?: boolean; allowMassDelete?: boolean } = {}) =>
  syncSource(env.deps, source, { env: secrets, ...opts });
async function decide(address: string) {
  const resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
  return (await resolver.resolve([address], false))[0];
}

describe('LDAP full sync', () => {
  it('syncs the AD-like directory over ldaps:// and routes from it', async () => {
    const r = await sync(ldapSource('corp-ad'));
    expect(r.counts).toMatchObject({ objects: 267, added: 267, invalid: 0, conflicts: 1 });
    const ada = await decide('Ada.Lovelace@contoso.edu');
    expect(ada).toMatchObject({
      reason: 'mailbox',
      connector: 'onprem',
      object: { source: 'corp-ad', dn: 'cn=Lovelace\\2C Ada,ou=Staff,dc=contoso,dc=edu' },
    });
    // identity is the objectGUID in GUID text form (first three groups byte-swapped)
    expect(ada?.object?.id).toBe('379e0000-2301-6745-89ab-cdef01234567');
    // the stored object carries the names and mailNickname read from the directory
    const [stored] = await lookup(env.redis, env.keys, ['ada.lovelace@contoso.edu']);
    expect(stored?.state === 'ok' && stored.object).toMatchObject({
      kind: 'mailbox',
      givenName: 'Ada',
      sn: 'Lovelace',
      cn: 'Lovelace, Ada',
      mailNickname: 'ada.lovelace',
    });
    expect(await decide('ada.ivanov@contoso.edu')).toMatchObject({
      reason: 'target-address',
      recipient: 'ada.ivanov@live.contoso.edu',
      connector: 'cloud',
    });
    expect(await decide('internetuser@xo.one')).toMatchObject({ reason: 'target-address', recipient: 'internetUser@remote.domain' });
    // room mailboxes are disabled accounts (userAccountControl 514) and still receive mail
    expect(await decide('room-101@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    expect(await decide('helpdesk@contoso.edu')).toMatchObject({
      object: { dn: 'cn=O\\22Brien\\2C Siobhan,ou=Faculty,dc=contoso,dc=edu' },
    });

    const again = await sync(ldapSource('corp-ad'));
    expect(again.counts).toMatchObject({ unchanged: 267, added: 0, changed: 0, removed: 0 });
  });

  it('reads a plain OpenLDAP schema over StartTLS (mail, mailAlternateAddress, mailRoutingAddress, entryUUID)', async () => {
    const r = await sync(ldapSource('people'));
    // grace, alan and the two mail-enabled groups (groupOfNames, groupOfUniqueNames with mail)
    expect(r.counts).toMatchObject({ objects: 4, invalid: 0 });
    expect(await decide('amazing.grace@contoso.edu')).toMatchObject({
      reason: 'mailbox',
      object: { source: 'people', dn: 'uid=grace,ou=People,dc=contoso,dc=edu' },
    });
    expect((await decide('GHopper@contoso.edu'))?.object?.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await decide('alan.turing@contoso.edu')).toMatchObject({
      reason: 'target-address',
      recipient: 'alan.turing@live.contoso.edu',
      connector: 'cloud',
    });
  });

  it('honours the configured base DN, scope and filter (dry runs)', async () => {
    const one = await sync(ldapSource('corp-ad', { baseDn: 'ou=Staff,dc=contoso,dc=edu', scope: 'one' }), { dryRun: true });
    expect(one.counts.objects).toBe(54);
    const base = await sync(ldapSource('corp-ad', { baseDn: 'cn=Lovelace\\2C Ada,ou=Staff,dc=contoso,dc=edu', scope: 'base' }), {
      dryRun: true,
    });
    expect(base.counts.objects).toBe(1);
    const narrowed = await sync(ldapSource('corp-ad', { filter: '(objectClass=contact)' }), { dryRun: true });
    expect(narrowed.counts.objects).toBe(62);
  });

  it('refuses an untrusted certificate (ldaps and StartTLS)', async () => {
    const other = await makeTestCa(mkdtempSync(join(tmpdir(), 'sy-otherca-')), 'Some Other CA');
    for (const source of [ldapSource('corp-ad', { caFile: other.caFile }), ldapSource('people', { caFile: other.caFile })]) {
      const err = await sync(source).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(LdapSourceError);
      expect(err).toMatchObject({ code: 'SY_LDAP_TLS', transient: false });
      expect((err as Error).message).toMatch(
        new RegExp(`^source ${source.name}: (connect and bind as .*|StartTLS): TLS certificate not trusted`),
      );
    }
  });

  it('a wrong password fails at once with a clear reason naming the source', async () => {
    const err = await syncSource(env.deps, ldapSource('corp-ad'), { env: { SY_TEST_LDAP_PASSWORD: 'wrong' } }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SY_LDAP_AUTH', transient: false });
    expect((err as Error).message).toBe(
      `source corp-ad: connect and bind as ${SERVICE_DN}: invalid credentials (check bindDn and the password)`,
    );
    expect((err as Error).message).not.toContain('wrong');
    await expect(syncSource(env.deps, ldapSource('corp-ad'), { env: {} })).rejects.toThrow(
      'sources.corp-ad.bindPasswordEnv: environment variable SY_TEST_LDAP_PASSWORD is not set',
    );
  });

  it('a wrong base DN or a filter matching nothing trips the deletion guard; the table is unchanged', async () => {
    const before = await readCurrent(env.redis, env.keys);
    await expect(sync(ldapSource('corp-ad', { baseDn: 'ou=Service,dc=contoso,dc=edu' }))).rejects.toBeInstanceOf(DeletionGuardError);
    await expect(sync(ldapSource('corp-ad', { filter: '(department=nothing-matches)' }))).rejects.toThrow(
      /267 of 267 objects .* would be removed/,
    );
    await expect(sync(ldapSource('corp-ad', { baseDn: 'ou=Nowhere,dc=contoso,dc=edu' }))).rejects.toMatchObject({
      code: 'SY_LDAP_BASE',
      transient: false,
    });
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(before?.version);
    expect(await decide('ada.lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox' });
  });

  it('slapd killed mid-sync: the sync fails as transient, the table is unchanged, the retry succeeds', async () => {
    const before = await readCurrent(env.redis, env.keys);
    const snapshotsBefore = Object.keys(await env.redis.hgetall(env.keys.snapshots)).sort();
    const source = ldapSource('corp-ad');
    const spec = { name: source.name, priority: source.priority, deletionThreshold: source.deletionThreshold };
    let pages = 0;
    const items = readLdap(source, {
      password: slapd.servicePassword,
      pageSize: 20,
      onPage: () => {
        if (++pages === 2) void slapd.stop('SIGKILL');
      },
    });
    const err = await publishSource(env.deps, spec, items, { cause: 'sync' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'SY_LDAP_UNAVAILABLE', transient: true });
    expect(pages).toBeGreaterThanOrEqual(2);
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(before?.version);
    expect(Object.keys(await env.redis.hgetall(env.keys.snapshots)).sort()).toEqual(snapshotsBefore);

    await slapd.start();
    const retry = await sync(source);
    expect(retry.counts).toMatchObject({ objects: 267, removed: 0 });
  });

  it('switchyard sync SOURCE runs a full sync from the CLI (dry run, then real)', async () => {
    const { execFile } = await import('node:child_process');
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
    const dry = await cli(['sync', 'people', '--full', '--dry-run']);
    expect(dry).toMatchObject({ code: 0 });
    expect(dry.stdout).toMatch(/^full sync: dry run: source people/);
    const real = await cli(['sync', 'corp-ad', '--full', '--json']);
    expect(real.code).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ mode: 'full', source: 'corp-ad', counts: { objects: 267 } });
    // slapd is no AD (no highestCommittedUSN): the AD mapping offers no delta, so it runs full
    const adDelta = await cli(['sync', 'corp-ad', '--json']);
    expect(JSON.parse(adDelta.stdout)).toMatchObject({ mode: 'full', fallback: 'no delta watermark yet' });
    const bad = await cli(['sync', 'nope']);
    expect(bad.code).toBe(2);
  });

  it('generic delta (modifyTimestamp): a changed mailRoutingAddress and a removed mail are picked up', async () => {
    await sync(ldapSource('people'), { mode: 'full' });
    const admin = new Client({ url: slapd.ldapUrl });
    await admin.bind(ADMIN_DN, slapd.adminPassword);
    try {
      await admin.modify(
        'uid=alan,ou=People,dc=contoso,dc=edu',
        new Change({
          operation: 'replace',
          modification: new Attribute({ type: 'mailRoutingAddress', values: ['alan@elsewhere.example'] }),
        }),
      );
      await admin.modify(
        'uid=grace,ou=People,dc=contoso,dc=edu',
        new Change({ operation: 'delete', modification: new Attribute({ type: 'mailAlternateAddress', values: ['ghopper@contoso.edu'] }) }),
      );
    } finally {
      await admin.unbind();
    }
    // two people, a handful of addresses: one address is over the guard's 10 % (SPEC §3.3)
    const r = await sync(ldapSource('people'), { mode: 'delta', allowMassDelete: true });
    expect(r).toMatchObject({ mode: 'delta', counts: { changed: 2, removed: 0, addressesRemoved: 1 } });
    expect(await decide('alan.turing@contoso.edu')).toMatchObject({
      reason: 'target-address',
      recipient: 'alan@elsewhere.example',
      connector: 'internet',
    });
    expect(await decide('ghopper@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    expect(await decide('amazing.grace@contoso.edu')).toMatchObject({ reason: 'mailbox' });
  });

  it('groupOfNames / groupOfUniqueNames with mail are recipients routed as mailboxes of their source, full and delta (SPEC §1)', async () => {
    await sync(ldapSource('people'), { mode: 'full' });
    const group = { reason: 'mailbox', connector: 'onprem' };
    expect(await decide('Research@contoso.edu')).toMatchObject({
      ...group,
      object: { source: 'people', dn: 'cn=Research,ou=People,dc=contoso,dc=edu' },
    });
    expect(await decide('lab@contoso.edu')).toMatchObject({ ...group, object: { dn: 'cn=Research,ou=People,dc=contoso,dc=edu' } });
    expect(await decide('reviewers@contoso.edu')).toMatchObject({ ...group, object: { dn: 'cn=Reviewers,ou=People,dc=contoso,dc=edu' } });

    const admin = new Client({ url: slapd.ldapUrl });
    await admin.bind(ADMIN_DN, slapd.adminPassword);
    try {
      await admin.add('cn=Seminar,ou=People,dc=contoso,dc=edu', {
        objectClass: ['groupOfNames', 'switchyardMailRecipient'],
        cn: 'Seminar',
        mail: 'seminar@contoso.edu',
        member: 'uid=alan,ou=People,dc=contoso,dc=edu',
      });
    } finally {
      await admin.unbind();
    }
    const r = await sync(ldapSource('people'), { mode: 'delta' });
    expect(r).toMatchObject({ mode: 'delta', counts: { added: 1, invalid: 0 } });
    expect(await decide('seminar@contoso.edu')).toMatchObject({ ...group, object: { dn: 'cn=Seminar,ou=People,dc=contoso,dc=edu' } });

    const again = new Client({ url: slapd.ldapUrl });
    await again.bind(ADMIN_DN, slapd.adminPassword);
    try {
      await again.del('cn=Seminar,ou=People,dc=contoso,dc=edu');
    } finally {
      await again.unbind();
    }
    // generic LDAP: deletions are found by the next full sync (SPEC §2.2); one of this tiny
    // source's five objects is over the deletion guard's 10 %, hence the override
    expect(await sync(ldapSource('people'), { mode: 'full', allowMassDelete: true })).toMatchObject({ counts: { removed: 1 } });
    expect((await decide('seminar@contoso.edu'))?.object).toBeUndefined();
  });
});
