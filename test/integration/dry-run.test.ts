/**
 * Dry runs an administrator can act on (SPEC §3.4): `import --dry-run --json` prints the
 * whole diff as one JSON object (added, removed, changed objects with each field old → new,
 * the addresses, the new conflicts) and publishes nothing; the terminal form cuts long lists.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { readCurrent } from '../../src/store/table.js';
import { testEnv, type TestEnv } from '../helpers/env.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
let env: TestEnv;
beforeEach(async () => {
  env = await testEnv();
});
afterEach(async () => env.cleanup());

const HEADER = 'objectClass,DN,proxyAddresses,targetAddress';
const dn = (name: string) => `"CN=${name},OU=Staff,DC=contoso,DC=edu"`;
/** A CSV file in the test environment's directory (removed by its cleanup). */
function csv(rows: string[]): string {
  const file = join(mkdtempSync(join(dirname(env.configFile), 'csv-')), 'data.csv');
  writeFileSync(file, [HEADER, ...rows].join('\n') + '\n');
  return file;
}
const staff = Array.from({ length: 30 }, (_, i) => `user,${dn(`Staff ${i}`)},SMTP:staff${i}@contoso.edu,`);
const cli = (args: string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args, '--config', env.configFile],
      { env: { ...process.env, REDIS_URL: '' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    );
  });

describe('import --dry-run', () => {
  it('--json: one JSON object with every added, removed and changed object (fields old → new) and the addresses; nothing published', async () => {
    const before = [
      ...staff,
      `user,${dn('Ada')},SMTP:ada@contoso.edu;smtp:ada.l@contoso.edu,`,
      `user,${dn('Brian')},SMTP:brian@contoso.edu,SMTP:brian@live.contoso.edu`,
      `user,${dn('Gone')},SMTP:gone@contoso.edu;smtp:gone.too@contoso.edu,`,
    ];
    await importCsvde(env.deps, env.source('corp'), csv(before), {});
    const version = (await readCurrent(env.redis, env.keys))?.version;
    const after = [
      ...staff,
      // Ada: a secondary swapped, and now a mail user (targetAddress set)
      `user,${dn('Ada')},SMTP:ada@contoso.edu;smtp:lovelace@contoso.edu,SMTP:ada@live.contoso.edu`,
      // Brian: targetAddress changed
      `user,${dn('Brian')},SMTP:brian@contoso.edu,SMTP:brian@elsewhere.example`,
      `user,${dn('New')},SMTP:new@contoso.edu;smtp:staff1@contoso.edu,`,
    ];
    const r = await cli(['import', csv(after), '--source', 'corp', '--dry-run', '--json']);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({
      dryRun: true,
      counts: { added: 1, removed: 1, changed: 2 },
      diff: {
        added: ['CN=New,OU=Staff,DC=contoso,DC=edu'],
        removed: ['CN=Gone,OU=Staff,DC=contoso,DC=edu'],
        newConflicts: ['staff1@contoso.edu'],
      },
    });
    const diff = out.diff as { changed: { dn: string }[]; addressesAdded: string[]; addressesRemoved: string[] };
    const byDn = Object.fromEntries(diff.changed.map((c) => [c.dn, c]));
    expect(byDn['CN=Ada,OU=Staff,DC=contoso,DC=edu']).toEqual({
      dn: 'CN=Ada,OU=Staff,DC=contoso,DC=edu',
      kind: { old: 'mailbox', new: 'mailUser' },
      targetAddress: { old: null, new: 'ada@live.contoso.edu' },
      proxyAddresses: { added: ['lovelace@contoso.edu'], removed: ['ada.l@contoso.edu'] },
    });
    expect(byDn['CN=Brian,OU=Staff,DC=contoso,DC=edu']).toEqual({
      dn: 'CN=Brian,OU=Staff,DC=contoso,DC=edu',
      targetAddress: { old: 'brian@live.contoso.edu', new: 'brian@elsewhere.example' },
    });
    expect(diff.addressesAdded.sort()).toEqual(['lovelace@contoso.edu', 'new@contoso.edu', 'staff1@contoso.edu']);
    expect(diff.addressesRemoved.sort()).toEqual(['ada.l@contoso.edu', 'gone.too@contoso.edu', 'gone@contoso.edu']);
    expect((await readCurrent(env.redis, env.keys))?.version).toBe(version);

    // on a terminal: counts first, then the lists, each cut with "… and N more"
    const text = await cli(['import', csv(after.slice(0, 3)), '--source', 'corp', '--dry-run']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^dry run: source corp[^\n]*\n {2}objects {4}3 /);
    expect(text.stdout).toMatch(/ {2}removed:\n( {4}CN=[^\n]+\n){10} {4}… and 20 more\n/);
    expect(text.stdout).toMatch(/addresses removed:\n/);
  });
});
