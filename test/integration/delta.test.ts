/**
 * Deltas on the published table (overlay on a full snapshot), on a real Redis: changes
 * become visible atomically, later deltas build on earlier ones, quarantined losers take
 * over a released address, a full sync afterwards diffs against base + overlay.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import { readCsvde } from '../../src/directory/csvde/reader.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { publishDelta, NoBaseSnapshotError, type DeltaItem } from '../../src/pipeline/publish-delta.js';
import type { PublishDeps } from '../../src/pipeline/types.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { readSnapshotMeta } from '../../src/store/snapshot.js';
import { listConflicts } from '../../src/store/status.js';
import { rollback } from '../../src/store/table.js';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

let env: TestEnv;
let deps: PublishDeps;
afterEach(async () => env.cleanup());

const spec = { name: 'corp', priority: 10, deletionThreshold: 500 };
const delta = (items: DeltaItem[], opts = {}) => publishDelta(deps, spec, [items], { cause: 'sync', ...opts });
const entry = (e: Partial<DirectoryEntry> & { dn: string }): DirectoryEntry => ({
  id: e.dn,
  objectClass: ['user'],
  proxyAddresses: [],
  ...e,
});
async function decide(address: string) {
  const resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
  return (await resolver.resolve([address], false))[0];
}

// Tiny tables get one shard; the same scenarios with every snapshot split in 8 shards.
describe.each([1, 8])('delta publish (snapshots of at least %i shards)', (minShards) => {
  beforeEach(async () => {
    env = await testEnv();
    deps = { ...env.deps, minShards };
  });

  it('needs a full snapshot first', async () => {
    await expect(delta([])).rejects.toBeInstanceOf(NoBaseSnapshotError);
  });

  it('adds, changes, removes an address, deletes — each visible, nothing else changes', async () => {
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    const kofi = 'CN=Lovelace\\, Kofi,OU=Faculty,DC=contoso,DC=edu';
    const r = await delta([
      {
        upsert: entry({
          dn: 'CN=New Partner,OU=Contacts,DC=contoso,DC=edu',
          objectClass: ['contact'],
          proxyAddresses: ['SMTP:np@partner.example', 'smtp:new.partner@contoso.edu'],
          targetAddress: 'SMTP:np@partner.example',
        }),
      },
      {
        upsert: entry({
          dn: 'CN=Ada Ivanov,OU=Migrated,DC=contoso,DC=edu',
          proxyAddresses: ['SMTP:ada.ivanov@contoso.edu', 'smtp:ada.ivanov@live.contoso.edu', 'smtp:ada.ivanov@chem.lab.contoso.edu'],
          targetAddress: 'SMTP:ada.ivanov@elsewhere.example',
          mail: 'ada.ivanov@contoso.edu',
          created: '20260306093000.0Z',
        }),
      },
      {
        upsert: entry({
          dn: kofi,
          proxyAddresses: ['SMTP:kofi.lovelace@contoso.edu'],
          mail: 'kofi.lovelace@contoso.edu',
          created: '20201111093000.0Z',
        }),
      },
      { delete: 'CN=Room 101,OU=Resources,DC=contoso,DC=edu', origin: 'Room 101' },
    ]);
    expect(r).toMatchObject({
      version: 2,
      counts: { added: 1, changed: 2, removed: 1, objects: 267, addressesAdded: 2, addressesRemoved: 2 },
    });
    expect(await decide('new.partner@contoso.edu')).toMatchObject({
      reason: 'target-address',
      recipient: 'np@partner.example',
      tableVersion: 2,
    });
    expect(await decide('ada.ivanov@chem.lab.contoso.edu')).toMatchObject({
      reason: 'target-address',
      recipient: 'ada.ivanov@elsewhere.example',
      connector: 'internet',
    });
    expect(await decide('kofi_lovelace@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    expect(await decide('kofi.lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    expect(await decide('room-101@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    expect(await decide('ada.lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox', tableVersion: 2 });

    // a second delta builds on the first; re-sending an unchanged object publishes nothing
    const again = await delta([{ delete: 'CN=New Partner,OU=Contacts,DC=contoso,DC=edu', origin: 'x' }]);
    expect(again).toMatchObject({ version: 3, counts: { removed: 1, objects: 266 } });
    expect(await decide('new.partner@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    expect(await decide('room-101@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    expect(await decide('ada.ivanov@contoso.edu')).toMatchObject({ recipient: 'ada.ivanov@elsewhere.example' });
    const same = await delta([
      {
        upsert: entry({
          dn: kofi,
          proxyAddresses: ['SMTP:kofi.lovelace@contoso.edu'],
          mail: 'kofi.lovelace@contoso.edu',
          created: '20201111093000.0Z',
        }),
      },
    ]);
    expect(same).toMatchObject({ unchanged: true, version: 3 });

    // rollback to before the deltas
    await rollback(env.redis, env.keys, { to: 1, required: [], keep: 5 });
    expect(await decide('room-101@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    expect(await decide('kofi_lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox' });
  });

  it('a released address goes to the quarantined loser; conflicts follow', async () => {
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    expect(await decide('helpdesk@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    const released = await delta([{ delete: 'CN=O"Brien\\, Siobhan,OU=Faculty,DC=contoso,DC=edu', origin: 'siobhan' }]);
    expect(released.counts).toMatchObject({ conflicts: 0, newConflicts: 0 });
    expect(await decide('helpdesk@contoso.edu')).toMatchObject({
      reason: 'target-address',
      recipient: 'helpdesk@old-vendor.example',
      object: { dn: 'CN=Helpdesk (old),OU=Contacts,DC=contoso,DC=edu' },
    });
    expect((await listConflicts(env.redis, env.keys)).filter((c) => c.scope === 'source')).toEqual([]);
    // a new mailbox claiming the address wins it back (mailbox before contact) and quarantines the contact
    const claimed = await delta([
      { upsert: entry({ dn: 'CN=Service Desk,OU=Staff,DC=contoso,DC=edu', proxyAddresses: ['SMTP:HelpDesk@contoso.edu'] }) },
    ]);
    expect(claimed.counts).toMatchObject({ conflicts: 1, newConflicts: 1 });
    expect(await decide('helpdesk@contoso.edu')).toMatchObject({
      reason: 'mailbox',
      object: { dn: 'CN=Service Desk,OU=Staff,DC=contoso,DC=edu' },
    });
    expect((await listConflicts(env.redis, env.keys)).filter((c) => c.scope === 'source')).toEqual([
      expect.objectContaining({
        address: 'helpdesk@contoso.edu',
        winner: expect.objectContaining({ dn: 'CN=Service Desk,OU=Staff,DC=contoso,DC=edu' }),
        quarantined: [expect.objectContaining({ dn: 'CN=Helpdesk (old),OU=Contacts,DC=contoso,DC=edu' })],
      }),
    ]);
  });

  it('a full sync after deltas diffs against base + overlay and starts a new base', async () => {
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    await delta([{ delete: 'CN=Room 101,OU=Resources,DC=contoso,DC=edu', origin: 'x' }]);
    expect((await readSnapshotMeta(env.redis, env.keys, '1'))?.shards).toBe(minShards);
    expect((await readSnapshotMeta(env.redis, env.keys, '2'))?.shards).toBe(minShards);
    const full = await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    expect(full.counts).toMatchObject({ added: 1, changed: 0, removed: 0, unchanged: 266, addressesAdded: 1, addressesRemoved: 0 });
    expect(await decide('room-101@contoso.edu')).toMatchObject({ reason: 'mailbox' });
  });

  it('the deletion guard applies to deltas too; deletes of unknown objects change nothing', async () => {
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    const dns: string[] = [];
    for await (const batch of readCsvde(csvFixture('contoso.csv')))
      for (const i of batch) if ('entry' in i && dns.length < 30) dns.push(i.entry.dn);
    const deletes: DeltaItem[] = dns.map((dn) => ({ delete: dn, origin: dn }));
    await expect(delta(deletes)).rejects.toThrow(/^refused: 30 of 267 objects \(11\.2 %\) of source "corp" would be removed/);
    expect(await decide('ada.lovelace@contoso.edu')).toMatchObject({ reason: 'mailbox', tableVersion: 1 });
    expect(await delta(deletes, { allowMassDelete: true })).toMatchObject({ version: 2, counts: { removed: 30, objects: 237 } });
    expect(await decide('ada.lovelace@contoso.edu')).toMatchObject({ reason: 'internal-relay' });
    expect(await delta([{ delete: 'CN=Nobody,DC=x', origin: 'x' }])).toMatchObject({ unchanged: true, counts: { skipped: 1 } });
  });

  it('addresses with non-ASCII capitals keep resolving through deltas (case folded as JavaScript does)', async () => {
    await importCsvde(deps, env.source('corp'), csvFixture('contoso.csv'));
    const elodie = entry({ dn: 'CN=Élodie,OU=Staff,DC=contoso,DC=edu', proxyAddresses: ['SMTP:Élodie@contoso.edu'] });
    await delta([{ upsert: elodie }]);
    expect(await decide('élodie@contoso.edu')).toMatchObject({ reason: 'mailbox' });
    await delta([{ upsert: { ...elodie, proxyAddresses: ['SMTP:Élodie@contoso.edu', 'smtp:ÉLODIE.B@contoso.edu'] } }]);
    expect(await decide('ÉLODIE@contoso.edu')).toMatchObject({ reason: 'mailbox', object: { dn: 'CN=Élodie,OU=Staff,DC=contoso,DC=edu' } });
    expect(await decide('élodie.b@contoso.edu')).toMatchObject({ reason: 'mailbox' });
  });
});
