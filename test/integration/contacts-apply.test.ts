/**
 * `contacts apply` into a real AD (Samba AD DC, writes over LDAPS as a service account
 * with rights on the managed OU only, granted with `samba-tool dsacl set`), then a sync
 * of that AD reading the contacts back (SPEC §10).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readAudit } from '../../src/audit/log.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { createLogger } from '../../src/log/logger.js';
import { startWorker } from '../../src/main/worker.js';
import { ContactsGuardError, type ApplyResult } from '../../src/contacts/apply.js';
import { runGalSync, type GalSyncRequest } from '../../src/contacts/run.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { syncSource } from '../../src/pipeline/sync-source.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { readContactsRuns } from '../../src/store/contacts-runs.js';
import { listConflicts } from '../../src/store/status.js';
import { AD_BASE, AD_SERVICE_DN } from '../../testkit/embedded-samba.js';
import { testEnv, type TestEnv } from '../helpers/env.js';
import { adSource, adminClient, seededSamba } from '../helpers/samba.js';

const run = promisify(execFile);
const OU = `OU=Cloud Contacts,${AD_BASE}`;
const HAND_MADE = `CN=Hand Made,${OU}`;
const NAMESAKE = `CN=Student 5,${OU}`;
const OUTSIDE = `CN=Ghost,OU=Contacts,${AD_BASE}`;

let dc: Awaited<ReturnType<typeof seededSamba>>;
let env: TestEnv;
const dir = mkdtempSync(join(tmpdir(), 'sy-contacts-'));
const secrets = { SY_TEST_AD_PASSWORD: '' };
const req: GalSyncRequest = { from: 'students', to: 'corp-ad', ou: OU, routingDomain: 'live.contoso.edu' };

interface Student {
  readonly n: number;
  readonly name?: string;
  readonly hidden?: boolean;
}

/** The cloud side's export: mailboxes `student<n>@contoso.edu`, each also at live.contoso.edu. */
function studentsCsv(students: readonly Student[]): string {
  const file = join(dir, `students-${Date.now()}-${Math.random()}.csv`);
  const rows = students.map(
    (s) =>
      `user,"CN=Student ${s.n},OU=Students,DC=cloud",${s.name ?? `Student ${s.n}`},student${s.n},"SMTP:student${s.n}@contoso.edu;smtp:student${s.n}@live.contoso.edu",student${s.n}@contoso.edu,${s.hidden ? 'TRUE' : ''}`,
  );
  writeFileSync(file, ['objectClass,DN,displayName,mailNickname,proxyAddresses,mail,msExchHideFromAddressLists', ...rows].join('\n'));
  return file;
}

const range = (from: number, to: number): Student[] => Array.from({ length: to - from + 1 }, (_, i) => ({ n: from + i }));

async function importStudents(students: readonly Student[], allowMassDelete = false): Promise<void> {
  await importCsvde(env.deps, env.source('students'), studentsCsv(students), { allowMassDelete });
}

const apply = (opts: { dryRun?: boolean; allowMassDelete?: boolean } = {}): Promise<ApplyResult> =>
  runGalSync({ redis: env.redis, keys: env.keys, config: env.config, env: secrets }, req, opts);

async function ouEntries(): Promise<Map<string, Record<string, unknown>>> {
  const client = await adminClient(dc);
  try {
    const { searchEntries } = await client.search(OU, { scope: 'one', filter: '(objectClass=contact)', attributes: ['*'] });
    return new Map(searchEntries.map((e) => [e.dn.toLowerCase(), e]));
  } finally {
    await client.unbind();
  }
}

async function exists(dn: string): Promise<boolean> {
  const client = await adminClient(dc);
  try {
    await client.search(dn, { scope: 'base', attributes: ['cn'] });
    return true;
  } catch {
    return false;
  } finally {
    await client.unbind();
  }
}

function sidText(b: Buffer): string {
  const count = b.readUInt8(1);
  const authority = b.readUIntBE(2, 6);
  const subs = Array.from({ length: count }, (_, i) => b.readUInt32LE(8 + 4 * i));
  return `S-${b.readUInt8(0)}-${authority}-${subs.join('-')}`;
}

/** What an administrator does for the write account: create, delete and write on the OU, inherited by its children. */
async function grantOnOu(): Promise<void> {
  const client = await adminClient(dc);
  const { searchEntries } = await client.search(AD_SERVICE_DN, {
    scope: 'base',
    attributes: ['objectSid'],
    explicitBufferAttributes: ['objectSid'],
  });
  await client.unbind();
  const sid = sidText(searchEntries[0]?.objectSid as Buffer);
  await run('samba-tool', [
    'dsacl',
    'set',
    `--objectdn=${OU}`,
    `--sddl=(A;CI;RPWPCRCCDCLCLORCWOSDDTSW;;;${sid})`,
    '-H',
    dc.ldapUrl,
    '--use-kerberos=off',
    '-W',
    'CONTOSO',
    `-UAdministrator%${dc.adminPassword}`,
  ]);
}

beforeAll(async () => {
  dc = await seededSamba();
  secrets.SY_TEST_AD_PASSWORD = dc.servicePassword;
  env = await testEnv((raw) => {
    raw.sources = [(raw.sources as { name: string }[]).find((s) => s.name === 'students'), adSource(dc)];
  });
  const client = await adminClient(dc);
  try {
    await client.add(OU, { objectClass: 'organizationalUnit' });
    // hand-made, unmarked contacts inside the OU: one holds a student's address, one has a student's name
    await client.add(HAND_MADE, {
      objectClass: 'contact',
      proxyAddresses: ['SMTP:student3@contoso.edu'],
      targetAddress: 'SMTP:student3@elsewhere.example',
      mail: 'student3@contoso.edu',
    });
    await client.add(NAMESAKE, { objectClass: 'contact', description: 'not a mail contact' });
    // outside the OU, even with a marker of this direction: never touched
    await client.add(OUTSIDE, {
      objectClass: 'contact',
      proxyAddresses: ['SMTP:ghost@partner.example'],
      targetAddress: 'SMTP:ghost@partner.example',
      adminDescription: 'switchyard-galsync:students:CN=Ghost,OU=Students,DC=cloud',
    });
  } finally {
    await client.unbind();
  }
  await importStudents(range(1, 20));
}, 180_000);

afterAll(async () => {
  await env?.cleanup();
  await dc?.cleanup();
});

describe('contacts apply into Samba AD', () => {
  it('without rights on the OU: every write fails with an error naming the DN and the OU', async () => {
    const r = await apply();
    expect(r.counts.added).toBe(0);
    expect(r.errors.length).toBeGreaterThan(0);
    expect(r.errors[0]?.dn).toMatch(/,OU=Cloud Contacts,DC=contoso,DC=edu$/);
    expect(r.errors[0]?.error).toContain(`insufficient access rights`);
    expect(r.errors[0]?.error).toContain(OU);
    expect((await ouEntries()).size).toBe(2);
    // an OU that does not exist: refused before any write, naming it
    const missing = `OU=Nowhere,${AD_BASE}`;
    await expect(
      runGalSync({ redis: env.redis, keys: env.keys, config: env.config, env: secrets }, { ...req, ou: missing }),
    ).rejects.toThrow(`the managed OU ${missing} does not exist`);
  });

  it('--dry-run writes nothing', async () => {
    await grantOnOu();
    const r = await apply({ dryRun: true });
    expect(r).toMatchObject({ dryRun: true, counts: { added: 19, conflicts: 1 } });
    expect((await ouEntries()).size).toBe(2);
  });

  it('creates one contact per student, marked, pointing at the routing domain; the conflict is reported with both DNs', async () => {
    const r = await apply();
    expect(r.errors).toEqual([]);
    expect(r.counts).toMatchObject({ added: 19, modified: 0, renamed: 0, deleted: 0, conflicts: 1 });
    expect(r.conflicts).toEqual([
      expect.objectContaining({ address: 'student3@contoso.edu', holderDn: HAND_MADE, contactDn: `CN=Student 3,${OU}` }),
    ]);
    const entries = await ouEntries();
    expect(entries.size).toBe(21);
    const one = entries.get(`cn=student 1,${OU}`.toLowerCase());
    expect(one).toMatchObject({
      displayName: 'Student 1',
      mailNickname: 'student1',
      targetAddress: 'SMTP:student1@live.contoso.edu',
      mail: 'student1@contoso.edu',
      adminDescription: 'switchyard-galsync:students:CN=Student 1,OU=Students,DC=cloud',
    });
    expect(one?.proxyAddresses).toEqual(expect.arrayContaining(['SMTP:student1@contoso.edu', 'smtp:student1@live.contoso.edu']));
    // the namesake keeps its name; ours gets " (2)"
    expect(entries.has(`cn=student 5 (2),${OU}`.toLowerCase())).toBe(true);
    expect(entries.get(NAMESAKE.toLowerCase())?.description).toBe('not a mail contact');
    // no duplicate of the hand-made holder
    expect(entries.has(`cn=student 3,${OU}`.toLowerCase())).toBe(false);
    const status = await readContactsRuns(env.redis, env.keys);
    expect(status).toEqual([
      expect.objectContaining({ from: 'students', to: 'corp-ad', ok: true, counts: expect.objectContaining({ added: 19 }) }),
    ]);
  });

  it('a second run changes nothing', async () => {
    const r = await apply();
    expect(r.counts).toMatchObject({ added: 0, modified: 0, renamed: 0, deleted: 0, unchanged: 19, errors: 0 });
  });

  it('a write error on one contact does not stop the others', async () => {
    // the test AD's schema has no msExchHideFromAddressLists: a hidden student cannot be written
    await importStudents([...range(1, 20), { n: 21, hidden: true }, { n: 22 }]);
    const r = await apply();
    expect(r.errors).toEqual([expect.objectContaining({ op: 'add', dn: `CN=Student 21,${OU}` })]);
    expect(r.counts).toMatchObject({ added: 1, errors: 1 });
    expect(await exists(`CN=Student 22,${OU}`)).toBe(true);
  });

  it('a renamed student is a modify-DN; a removed one is deleted', async () => {
    await importStudents([...range(1, 19).map((s) => (s.n === 7 ? { n: 7, name: 'Student Seven' } : s)), { n: 22 }]);
    const r = await apply();
    expect(r.errors).toEqual([]);
    expect(r.counts).toMatchObject({ renamed: 1, deleted: 1, added: 0 });
    expect(r.planned.rename).toEqual([{ from: `CN=Student 7,${OU}`, to: `CN=Student Seven,${OU}` }]);
    expect(r.planned.delete).toEqual([`CN=Student 20,${OU}`]);
    const seven = (await ouEntries()).get(`cn=student seven,${OU}`.toLowerCase());
    expect(seven).toMatchObject({ displayName: 'Student Seven', targetAddress: 'SMTP:student7@live.contoso.edu' });
    expect((await apply()).counts).toMatchObject({ added: 0, modified: 0, renamed: 0, deleted: 0, errors: 0 });
  });

  it('removing half the students is refused by the deletion guard; nothing outside the OU or unmarked was touched', async () => {
    await importStudents(range(1, 9), true);
    await expect(apply()).rejects.toThrow(ContactsGuardError);
    await expect(apply()).rejects.toThrow(/would be removed.*--allow-mass-delete/);
    expect((await ouEntries()).size).toBe(21);
    expect(await exists(OUTSIDE)).toBe(true);
    expect(await exists(HAND_MADE)).toBe(true);
    expect(await exists(NAMESAKE)).toBe(true);
    const runs = await readContactsRuns(env.redis, env.keys);
    expect(runs[0]?.error).toMatch(/refused/);
    await importStudents([...range(1, 19).map((s) => (s.n === 7 ? { n: 7, name: 'Student Seven' } : s)), { n: 22 }], true);
  });

  it('a sync of the AD reads the contacts back: mirrors are no conflicts and never take the addresses', async () => {
    const r = await syncSource(env.deps, env.source('corp-ad'), { env: secrets, mode: 'full' });
    expect(r.counts.invalid).toBe(0);
    const conflicts = await listConflicts(env.redis, env.keys);
    // the hand-made contact is a real rival of student 3; no mirror is listed
    expect(conflicts.map((c) => c.address)).toEqual(['student3@contoso.edu']);
    const resolver = createResolver({ redis: env.redis, keys: env.keys, context: routingContext(env.config) });
    const [d] = await resolver.resolve(['student1@contoso.edu'], false);
    // corp-ad has the higher priority, yet the address routes as its origin says
    expect(d).toMatchObject({ reason: 'mailbox', connector: 'cloud', object: { source: 'students' } });
  });

  it("the on-premises side's own table (AD only): the contacts route to the other system by target-address", async () => {
    const onprem = await testEnv((raw) => {
      raw.sources = [adSource(dc)];
    });
    try {
      await syncSource(onprem.deps, onprem.source('corp-ad'), { env: secrets, mode: 'full' });
      const resolver = createResolver({ redis: onprem.redis, keys: onprem.keys, context: routingContext(onprem.config) });
      const [d] = await resolver.resolve(['Student1@contoso.edu'], false);
      expect(d).toMatchObject({
        reason: 'target-address',
        recipient: 'student1@live.contoso.edu',
        connector: 'cloud',
        object: { source: 'corp-ad' },
      });
      // student 3's address was not duplicated: the hand-made contact holds it alone
      expect(await listConflicts(onprem.redis, onprem.keys)).toEqual([]);
    } finally {
      await onprem.cleanup();
    }
  });

  it('runs as a job on the worker: the CLI waits for its result; status --json carries it', async () => {
    const worker = await startWorker({ config: env.config, log: createLogger('test-worker', 'silent'), env: secrets });
    const out: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
    try {
      const args = [
        '--from',
        'students',
        '--to',
        'corp-ad',
        '--ou',
        OU,
        '--routing-domain',
        'live.contoso.edu',
        '--config',
        env.configFile,
      ];
      expect(await main(['node', 'switchyard', 'contacts', 'apply', ...args, '--json'])).toBe(0);
      expect(await main(['node', 'switchyard', 'status', '--json', '--config', env.configFile])).toBe(0);
    } finally {
      spy.mockRestore();
      await worker.close();
    }
    const [applied, status] = out.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(applied).toMatchObject({ queued: true, counts: { added: 0, modified: 0, renamed: 0, deleted: 0, errors: 0, conflicts: 1 } });
    expect(status?.contacts).toEqual([
      expect.objectContaining({ from: 'students', to: 'corp-ad', ok: true, conflicts: [expect.objectContaining({ holderDn: HAND_MADE })] }),
    ]);
    // an operator action (SPEC §11): in the audit log with who and the result
    const audit = (await readAudit(env.redis, env.keys)).filter((e) => e.action === 'contacts-apply');
    expect(audit.at(-1)).toMatchObject({
      what: `students → corp-ad in ${OU}`,
      result: expect.stringMatching(/^0 added, 0 modified, 0 renamed, 0 deleted, \d+ unchanged, 1 conflicts, 0 errors$/),
    });
    expect(audit.at(-1)?.who).toMatch(/^os:/);
  });
});
