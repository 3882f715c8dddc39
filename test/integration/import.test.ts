/**
 * Csvde import → published table → decisions, on a real Redis (SPEC §2.1, §3, §4).
 */
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { DeletionGuardError, InvalidInputError } from '../../src/pipeline/errors.js';
import { CsvdeFileError } from '../../src/directory/csvde/errors.js';
import { createResolver, type Resolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { readCurrent, readHistory, rollback, RollbackError, StalePublishError } from '../../src/store/table.js';
import { listConflicts, readStatus } from '../../src/store/status.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
let resolver: Resolver;
beforeEach(async () => {
  env = await testEnv();
  resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
});
afterEach(async () => env.cleanup());

const importFile = (file: string, source = 'corp', opts = {}) => importCsvde(env.deps, env.source(source), file, opts);
async function decide(address: string, trusted = false) {
  const [d] = await resolver.resolve([address], trusted);
  return d;
}
/** A CSV file in the test environment's directory (removed by its cleanup). */
function tmpCsv(text: string): string {
  const file = join(mkdtempSync(join(dirname(env.configFile), 'csv-')), 'data.csv');
  writeFileSync(file, text);
  return file;
}

describe('import and resolve', () => {
  it('answers 451 4.3.0 before any table is published', async () => {
    expect(await decide('ada.lovelace@contoso.edu')).toMatchObject({
      action: 'defer',
      reason: 'temporary-failure',
      smtp: expect.stringMatching(/^451 4\.3\.0/),
    });
    expect(await decide('nobody@chem.lab.contoso.edu')).toMatchObject({ action: 'defer' });
  });

  it('gives every §4 decision from an imported table', async () => {
    const r = await importFile(csvFixture('contoso.csv'));
    expect(r).toMatchObject({ version: 1, counts: { objects: 267, added: 267, skipped: 1, conflicts: 1, invalid: 0 } });
    await importFile(csvFixture('students.csv'), 'students');

    expect(await decide('Ada.Lovelace@CONTOSO.edu')).toMatchObject({
      action: 'route',
      recipient: 'Ada.Lovelace@CONTOSO.edu',
      connector: 'onprem',
      reason: 'mailbox',
      tableVersion: 2,
      object: { source: 'corp', id: 'CN=Lovelace\\, Ada,OU=Staff,DC=contoso,DC=edu', dn: 'CN=Lovelace\\, Ada,OU=Staff,DC=contoso,DC=edu' },
    });
    expect(await decide('ada_lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox', connector: 'onprem' });
    expect(await decide('s100003@students.contoso.edu')).toMatchObject({
      reason: 'mailbox',
      connector: 'cloud',
      object: { source: 'students' },
    });
    // mail user (migrated to the cloud): rewritten to its targetAddress, routed to the cloud
    expect(await decide('kofi.lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    const migrated = await decide('Ada.Ivanov@contoso.edu');
    expect(migrated).toMatchObject({
      action: 'route',
      reason: 'target-address',
      recipient: 'ada.ivanov@live.contoso.edu',
      connector: 'cloud',
    });
    // the same object in the authoritative lab subdomain
    expect(await decide('ada.ivanov@chem.lab.contoso.edu')).toMatchObject({ reason: 'target-address', connector: 'cloud' });
    // the SPEC §2.1 contact, by its secondary address in the shared domain
    expect(await decide('InternetUser@xo.one')).toMatchObject({
      reason: 'target-address',
      recipient: 'internetUser@remote.domain',
      connector: 'internet',
    });
    // X500 and SIP proxies do not route
    expect(await decide('siobhan.obrien@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    expect(await decide('nobody@chem.lab.contoso.edu')).toMatchObject({
      action: 'reject',
      reason: 'unknown-recipient',
      smtp: expect.stringMatching(/^550 5\.1\.1 /),
    });
    expect(await decide('nobody@xo.one')).toMatchObject({ action: 'reject', reason: 'unknown-recipient' });
    expect(await decide('Nobody@contoso.edu')).toMatchObject({
      action: 'route',
      recipient: 'Nobody@contoso.edu',
      connector: 'legacy',
      reason: 'internal-relay',
    });
    expect(await decide('x@live.contoso.edu')).toMatchObject({ reason: 'external-relay', connector: 'cloud' });
    expect(await decide('x@example.org')).toMatchObject({
      action: 'reject',
      reason: 'relay-denied',
      smtp: '554 5.7.1 Relay access denied',
    });
    expect(await decide('x@example.org', true)).toMatchObject({ action: 'route', reason: 'outbound', connector: 'internet' });
    expect(await decide('x@lab.contoso.edu')).toMatchObject({ reason: 'relay-denied' });
    expect(await decide('bad address@contoso.edu')).toMatchObject({
      action: 'reject',
      reason: 'syntax',
      smtp: expect.stringMatching(/^501 5\.1\.3/),
    });
  });

  it('reads the UTF-16LE export into the same table as the UTF-8 one', async () => {
    await importFile(csvFixture('contoso.csv'));
    const again = await importFile(csvFixture('contoso-utf16.csv'));
    expect(again.counts).toMatchObject({
      objects: 267,
      unchanged: 267,
      added: 0,
      changed: 0,
      removed: 0,
      addressesAdded: 0,
      addressesRemoved: 0,
    });
    // nothing changed: nothing is published, the rollback history keeps its versions
    expect(again).toMatchObject({ unchanged: true, version: 1 });
    expect((await readHistory(env.redis, env.keys)).map((v) => v.version)).toEqual([1]);
    expect(Object.keys(await env.redis.hgetall(env.keys.snapshots))).toEqual(['1']);
  });

  it('quarantines an address claimed twice (differing in case) on the loser, across sources too', async () => {
    await importFile(csvFixture('contoso.csv'));
    await importFile(csvFixture('students.csv'), 'students');
    expect(await decide('HELPDESK@contoso.edu')).toMatchObject({
      reason: 'mailbox',
      object: { dn: 'CN=O"Brien\\, Siobhan,OU=Faculty,DC=contoso,DC=edu' },
    });
    const conflicts = await listConflicts(env.redis, env.keys);
    expect(conflicts).toEqual([
      expect.objectContaining({
        address: 'helpdesk@contoso.edu',
        scope: 'source',
        winner: expect.objectContaining({ dn: 'CN=O"Brien\\, Siobhan,OU=Faculty,DC=contoso,DC=edu' }),
        quarantined: [expect.objectContaining({ dn: 'CN=Helpdesk (old),OU=Contacts,DC=contoso,DC=edu' })],
      }),
      expect.objectContaining({
        address: 'helpdesk@contoso.edu',
        scope: 'sources',
        quarantined: [expect.objectContaining({ source: 'students', dn: 'CN=helpdesk-students,OU=Students,DC=contoso,DC=edu' })],
      }),
    ]);
  });

  it('refuses a bad file as a whole, naming the lines; the table is unchanged', async () => {
    await importFile(csvFixture('contoso.csv'));
    const before = await readCurrent(env.redis, env.keys);
    const err = await importFile(csvFixture('bad-rows.csv')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    const origins = (err as InvalidInputError).errors.map((e) => `${e.origin}: ${e.reason}`);
    expect(origins).toEqual(
      expect.arrayContaining([
        'bad-rows.csv:3: expected 6 columns, found 5',
        'bad-rows.csv:4: two primary SMTP: addresses ("a@contoso.edu" and "b@contoso.edu")',
        'bad-rows.csv:5: no DN',
        'bad-rows.csv:6: targetAddress "SMTP:nobody-at-all" is not an address (not local@domain)',
        'bad-rows.csv:9: duplicate object identity "CN=Good One,OU=Staff,DC=contoso,DC=edu" (an earlier entry has it)',
      ]),
    );
    expect((err as Error).message).toMatch(/^refused: \d+ invalid entries, first at bad-rows\.csv:\d+/);
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(before?.version);
    expect(await decide('ada.lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox', tableVersion: before?.version });
    await expect(importFile(csvFixture('bad-unclosed.csv'))).rejects.toBeInstanceOf(InvalidInputError);
    await expect(importFile(csvFixture('bad-no-dn-column.csv'))).rejects.toBeInstanceOf(CsvdeFileError);
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(before?.version);
    // no staging snapshot is left behind
    expect(Object.keys(await env.redis.hgetall(env.keys.snapshots))).toEqual([...(before?.snapshots.values() ?? [])]);
  });

  it('with skipInvalid publishes the valid rows and reports the rest', async () => {
    const r = await importFile(csvFixture('bad-rows.csv'), 'corp', { skipInvalid: true });
    expect(r.version).toBe(1);
    expect(r.counts.invalid).toBeGreaterThanOrEqual(5);
    expect(await decide('good.one@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    expect(await decide('two@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
  });

  it('deletion guard: refuses dropping 60 % of a source, table unchanged; --allow-mass-delete publishes', async () => {
    await importFile(csvFixture('contoso.csv'));
    const lines = readFileSync(csvFixture('contoso.csv'), 'utf8').trimEnd().split('\n');
    const kept = Math.round((lines.length - 1) * 0.4);
    const truncated = tmpCsv(`${lines.slice(0, kept + 1).join('\n')}\n`);
    const err = await importFile(truncated).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeletionGuardError);
    expect((err as Error).message).toMatch(
      /^refused: 160 of 267 objects \(59\.9 %\) of source "corp" would be removed.*--allow-mass-delete/,
    );
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(1);
    expect(await decide('tariq.park@contoso.edu')).toMatchObject({ reason: 'target-address' });

    // a header-only file (an export that returned nothing) would empty the source
    const empty = tmpCsv(`${lines[0]}\n`);
    await expect(importFile(empty)).rejects.toThrow(
      /267 of 267 objects \(100\.0 %\) of source "corp" would be removed, it would empty the source/,
    );

    const forced = await importFile(truncated, 'corp', { allowMassDelete: true });
    expect(forced).toMatchObject({ version: 2, counts: { removed: 160 } });
    expect(await decide('tariq.park@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
  });

  it('deletion guard on addresses: a sync removing 20 % of the addresses, every object kept, is refused; table unchanged', async () => {
    const header = 'objectClass,DN,proxyAddresses';
    const row = (i: number, secondary: boolean) =>
      `user,"CN=U${i},OU=Staff,DC=contoso,DC=edu",SMTP:u${i}@contoso.edu${secondary ? `;smtp:u${i}.alt@contoso.edu` : ''}`;
    const all = Array.from({ length: 10 }, (_, i) => row(i, true));
    await importFile(tmpCsv([header, ...all].join('\n')));
    // 4 of the 20 addresses go, the 10 objects stay
    const stripped = tmpCsv([header, ...Array.from({ length: 10 }, (_, i) => row(i, i >= 4))].join('\n'));
    const dry = await importFile(stripped, 'corp', { dryRun: true });
    expect(dry).toMatchObject({
      counts: { removed: 0, changed: 4, addressesRemoved: 4 },
      refusal: expect.stringMatching(/4 of 20 addresses/),
    });
    const err = await importFile(stripped).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeletionGuardError);
    expect((err as Error).message).toMatch(
      /^refused: 4 of 20 addresses \(20\.0 %\) of source "corp" would be removed, more than 10 % of its addresses; the table is unchanged\..*--allow-mass-delete/,
    );
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(1);
    expect(await decide('u0.alt@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    expect(await importFile(stripped, 'corp', { allowMassDelete: true })).toMatchObject({ version: 2 });
    expect(await decide('u0.alt@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
  });

  it('dry run prints the diff and publishes nothing; rollback restores the previous decisions', async () => {
    await importFile(csvFixture('contoso.csv'));
    const text = readFileSync(csvFixture('contoso.csv'), 'utf8')
      .replace('SMTP:ada.lovelace@contoso.edu', 'SMTP:ada.lovelace@contoso.edu;smtp:countess@contoso.edu')
      .replace(/\n[^\n]*Projector Cart[^\n]*/, '');
    const changed = tmpCsv(text);
    const dry = await importFile(changed, 'corp', { dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, counts: { changed: 1, removed: 1, addressesAdded: 1, addressesRemoved: 1 } });
    expect(dry.version).toBeUndefined();
    expect(dry.samples.removed).toEqual(['CN=Projector Cart,OU=Resources,DC=contoso,DC=edu']);
    expect(dry.samples.changed).toEqual(['CN=Lovelace\\, Ada,OU=Staff,DC=contoso,DC=edu']);
    expect((await readHistory(env.redis, env.keys)).map((v) => v.version)).toEqual([1]);
    expect(await decide('countess@contoso.edu')).toMatchObject({ reason: 'internal-relay', tableVersion: 1 });

    await importFile(changed);
    expect(await decide('countess@contoso.edu')).toMatchObject({ reason: 'mailbox', tableVersion: 2 });
    expect(await decide('projector-cart@contoso.edu')).toMatchObject({ reason: 'internal-relay' });

    const rb = await rollback(env.redis, env.keys, { to: 1, required: [], keep: 5 });
    expect(rb).toMatchObject({ version: 3, restored: 1 });
    expect(await decide('countess@contoso.edu')).toMatchObject({ reason: 'internal-relay', tableVersion: 3 });
    expect(await decide('projector-cart@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    await expect(rollback(env.redis, env.keys, { to: 42, required: [], keep: 5 })).rejects.toBeInstanceOf(RollbackError);
    // a later import diffs against the rolled-back snapshot
    const after = await importFile(changed);
    expect(after.counts).toMatchObject({ changed: 1, removed: 1 });
  });

  it('keeps the last N versions (nothing younger than keepFor: 0) and collects unreferenced snapshots', async () => {
    const variant = tmpCsv(
      readFileSync(csvFixture('contoso.csv'), 'utf8').replace(
        'SMTP:ada.lovelace@contoso.edu',
        'SMTP:ada.lovelace@contoso.edu;smtp:ada2@contoso.edu',
      ),
    );
    const deps = { ...env.deps, keepForMs: 0 };
    for (let i = 0; i < 7; i++) await importCsvde(deps, env.source('corp'), i % 2 ? variant : csvFixture('contoso-utf16.csv'));
    const status = await readStatus(env.redis, env.keys);
    expect(status.history.map((v) => v.version)).toEqual([7, 6, 5, 4, 3]);
    expect(await env.redis.exists(env.keys.version(2))).toBe(0);
    const snapshots = Object.keys(await env.redis.hgetall(env.keys.snapshots));
    expect(snapshots.sort()).toEqual([...new Set(status.history.flatMap((v) => [...v.snapshots.values()]))].sort());
    // every shard of the collected snapshot 1 is gone
    expect(await env.redis.keys(`${env.keys.prefix}:snap:1:*`)).toEqual([]);
  });

  it('two concurrent imports of one source: one publishes, the other is refused as stale', async () => {
    await importFile(csvFixture('contoso.csv'));
    const changed = tmpCsv(readFileSync(csvFixture('contoso.csv'), 'utf8').replace(/\n[^\n]*Projector Cart[^\n]*/, ''));
    const results = await Promise.allSettled([importFile(changed), importFile(changed)]);
    const published = results.filter((r) => r.status === 'fulfilled');
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(published).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.reason).toBeInstanceOf(StalePublishError);
    expect(String((refused[0]?.reason as Error | undefined)?.message)).toMatch(
      /^refused: another import or sync of source "corp" published while this one ran/,
    );
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(2);
    // the loser's staging snapshot is gone; only published snapshots remain
    expect(Object.keys(await env.redis.hgetall(env.keys.snapshots)).sort()).toEqual(
      ['1', '2', '3'].filter((id) => id !== (results[0]?.status === 'fulfilled' ? '3' : '2')),
    );
  });
});
