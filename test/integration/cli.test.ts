/**
 * The `switchyard` command as users run it (the compiled CLI in a child process):
 * SPEC §7 exit codes, `resolve --json` fields, import/status/conflicts/rollback/config check.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvFixture, testEnv, type TestEnv } from '../helpers/env.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
let env: TestEnv;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}, cwd?: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, REDIS_URL: '', SWITCHYARD_CONFIG: env.configFile, ...extraEnv }, ...(cwd ? { cwd } : {}) },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

beforeAll(async () => {
  env = await testEnv();
});
afterAll(async () => env.cleanup());

describe('switchyard CLI', () => {
  it('resolve before any import answers 451 in --json with the SPEC §4 fields', async () => {
    const r = await cli(['resolve', '--json', 'ada.lovelace@contoso.edu']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      address: 'ada.lovelace@contoso.edu',
      action: 'defer',
      smtp: '451 4.3.0 No routing table published yet, try again later',
      reason: 'temporary-failure',
      tableVersion: null,
    });
  });

  it('import (dry run, then real), status, resolve, conflicts, rollback', async () => {
    const dry = await cli(['import', csvFixture('contoso.csv'), '--source', 'corp', '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/^dry run: source corp/);
    expect(dry.stdout).toContain('objects    267 (added 267');

    const imp = await cli(['import', csvFixture('contoso.csv'), '--source', 'corp']);
    expect(imp.code).toBe(0);
    expect(imp.stdout).toMatch(/^published table version 1: source corp/);
    expect(imp.stdout).toContain('conflicts  1 (new 1)');

    const res = await cli(['resolve', '--json', 'Ada.Ivanov@contoso.edu', 'friend@example.org', 'nobody@chem.lab.contoso.edu']);
    const lines = res.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toEqual({
      address: 'Ada.Ivanov@contoso.edu',
      action: 'route',
      recipient: 'ada.ivanov@live.contoso.edu',
      connector: 'cloud',
      smtp: '250 2.1.5 Accepted',
      reason: 'target-address',
      object: { source: 'corp', id: 'CN=Ada Ivanov,OU=Migrated,DC=contoso,DC=edu', dn: 'CN=Ada Ivanov,OU=Migrated,DC=contoso,DC=edu' },
      tableVersion: 1,
    });
    expect(lines[1]).toMatchObject({ action: 'reject', reason: 'relay-denied', smtp: '554 5.7.1 Relay access denied', tableVersion: null });
    // students is configured but not published yet: the table is incomplete, never a 550 (SPEC §3.2)
    expect(lines[2]).toMatchObject({
      action: 'defer',
      reason: 'temporary-failure',
      smtp: expect.stringMatching(/^451 4\.3\.0 /),
      tableVersion: 1,
    });
    const trusted = await cli(['resolve', '--json', '--from-trusted', 'friend@example.org']);
    expect(JSON.parse(trusted.stdout)).toMatchObject({ action: 'route', reason: 'outbound', connector: 'internet' });

    const status = JSON.parse((await cli(['status', '--json'])).stdout) as Record<string, unknown>;
    expect(status).toMatchObject({
      tableVersion: 1,
      cause: 'import',
      conflicts: 1,
      sources: [{ name: 'corp', objects: 267, addresses: 568, conflicts: 1 }],
      complete: false,
      missingSources: ['students'],
    });
    expect((await cli(['status'])).stdout).toContain('complete: NO, missing sources students');

    const conflicts = await cli(['conflicts']);
    expect(conflicts.stdout).toContain('helpdesk@contoso.edu: kept by corp: CN=O"Brien\\, Siobhan');

    await cli(['import', csvFixture('students.csv'), '--source', 'students']);
    const complete = JSON.parse((await cli(['resolve', '--json', 'nobody@chem.lab.contoso.edu'])).stdout) as Record<string, unknown>;
    expect(complete).toMatchObject({
      action: 'reject',
      reason: 'unknown-recipient',
      smtp: expect.stringMatching(/^550 5\.1\.1 /),
      tableVersion: 2,
    });
    // version 1 predates students: the whole table may not go back there (SPEC §3.2)
    const refused = await cli(['rollback', '--yes']);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toMatch(/^switchyard: refused: source students has no snapshot in version 1/);
    // no terminal and no --yes: the diff, then a usage error
    const unconfirmed = await cli(['rollback', '--source', 'students', '--to', '1']);
    expect(unconfirmed.stderr).toBe('switchyard: source students has no snapshot in version 1\n');
    const fewer = join(mkdtempSync(join(tmpdir(), 'switchyard-cli-')), 'students.csv');
    writeFileSync(fewer, readFileSync(csvFixture('students.csv'), 'utf8').trimEnd().split('\n').slice(0, -1).join('\n') + '\n');
    expect((await cli(['import', fewer, '--source', 'students'])).stdout).toMatch(/^published table version 3/);
    const ask = await cli(['rollback', '--source', 'students']);
    expect(ask.code).toBe(2);
    expect(ask.stdout).toMatch(
      /^rollback of source students to its state in table version 2 \(current version 3\):\n {2}students: snapshot \d+ → \d+, objects \d+ → \d+/,
    );
    expect(ask.stderr).toContain('re-run with --yes');
    const rb = await cli(['rollback', '--source', 'students', '--yes']);
    expect(rb.code).toBe(0);
    expect(rb.stdout).toContain('published table version 4 (source students as in version 2); pinned: students');
    const s100000 = JSON.parse((await cli(['resolve', '--json', 's100000@contoso.edu'])).stdout) as Record<string, unknown>;
    expect(s100000).toMatchObject({ tableVersion: 4 });
    expect((await cli(['rollback', '--yes', '--to', '99'])).stderr).toMatch(/^switchyard: version 99 is not kept \(kept: 4, 3, 2, 1\)\n$/);
    // the audit log (SPEC §11): the applied rollback with who and its result; the refused and unconfirmed ones never ran
    const audit = (await cli(['audit', '--json'])).stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, string>);
    expect(audit).toEqual([
      expect.objectContaining({ action: 'rollback', what: 'source students to version previous', result: 'published version 4' }),
    ]);
    expect(audit[0]?.who).toMatch(/^os:./);
  });

  it('exit 1 with the line for a bad file, nothing published', async () => {
    const before = JSON.parse((await cli(['status', '--json'])).stdout) as { tableVersion: number | null };
    const r = await cli(['import', csvFixture('bad-rows.csv'), '--source', 'corp']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('bad-rows.csv:3: expected 6 columns, found 5\n');
    expect(r.stderr.trim().split('\n').pop()).toMatch(
      /^switchyard: refused: \d+ invalid entries, first at bad-rows\.csv:\d+: .*--skip-invalid/,
    );
    const after = JSON.parse((await cli(['status', '--json'])).stdout) as { tableVersion: number | null };
    expect(after.tableVersion).toBe(before.tableVersion);
  });

  it('source remove refuses a configured source and one not in the table; resume needs a configured source', async () => {
    const still = await cli(['source', 'remove', 'students']);
    expect(still).toMatchObject({ code: 1, stdout: '' });
    expect(still.stderr).toBe('switchyard: refused: source students is still configured; take it out of the configuration first\n');
    const gone = await cli(['source', 'remove', 'alumni']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^switchyard: source alumni is not in the table/);
    const audit = (await cli(['audit'])).stdout;
    expect(audit).toMatch(/os:\S+ {2}source-remove {2}source students {2}→ failed: refused: source students is still configured/);
    expect(audit).toMatch(/source-remove {2}source alumni {2}→ failed: source alumni is not in the table/);
    expect((await cli(['resume', 'alumni'])).code).toBe(2);
  });

  it('exit 2 for usage errors', async () => {
    expect((await cli(['import', csvFixture('contoso.csv')])).code).toBe(2); // no --source
    expect((await cli(['frobnicate'])).code).toBe(2);
    const wrongSource = await cli(['import', csvFixture('contoso.csv'), '--source', 'nope']);
    expect(wrongSource.code).toBe(2);
    expect(wrongSource.stderr).toMatch(/--source nope: no such source/);
    expect((await cli(['rollback', '--to', 'x'])).code).toBe(2);
  });

  it('config check prints the effective config, or every problem with its key, exit 1', async () => {
    const ok = await cli(['config', 'check']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('versionsKept: 5');
    const bad = await cli(['config', 'check', '--config', join(import.meta.dirname, '..', '..', 'fixtures', 'config', 'invalid.yaml')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid.yaml: connectors[1].smartHosts[0]: not host:port');
    expect(bad.stderr).toContain('invalid.yaml: sources[0].bindPassword: secrets are not allowed in the config file');
  });

  it('a Redis that cannot be reached: resolve defers with 451, status fails with exit 1', async () => {
    const down = { REDIS_URL: 'redis://127.0.0.1:1' };
    const r = await cli(['resolve', '--json', 'ada.lovelace@contoso.edu'], down);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ action: 'defer', smtp: '451 4.3.0 Directory temporarily unavailable, try again later' });
    const s = await cli(['status'], down);
    expect(s.code).toBe(1);
    expect(s.stderr).toMatch(/^switchyard: Redis unreachable/);
  });

  it('--version prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r).toMatchObject({ code: 0, stdout: `${pkg.version}\n` });
  });

  it('without a configuration file: says where it looked and how to start, exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    try {
      const none = await cli(['status'], { SWITCHYARD_CONFIG: '' }, dir);
      expect(none.code).toBe(1);
      expect(none.stderr.trim()).toBe(
        'switchyard: no configuration file; looked at --config (not given), $SWITCHYARD_CONFIG (not set), ./switchyard.yaml (no such file). ' +
          'To start: switchyard config init --out ./switchyard.yaml, edit it, then switchyard config check',
      );
      const given = await cli(['resolve', 'a@contoso.edu', '--config', 'missing.yaml'], { SWITCHYARD_CONFIG: '' }, dir);
      expect(given.code).toBe(1);
      expect(given.stderr).toContain('looked at --config missing.yaml (no such file)');
      const fromEnv = await cli(['config', 'check'], { SWITCHYARD_CONFIG: join(dir, 'env.yaml') }, dir);
      expect(fromEnv.code).toBe(1);
      expect(fromEnv.stderr).toContain(`$SWITCHYARD_CONFIG=${join(dir, 'env.yaml')} (no such file)`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('config init writes an annotated example that config check accepts; it refuses to overwrite without --force', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-cli-'));
    try {
      const init = await cli(['config', 'init'], { SWITCHYARD_CONFIG: '' }, dir);
      expect(init.code).toBe(0);
      const text = readFileSync(join(dir, 'switchyard.yaml'), 'utf8');
      expect(text).toMatch(/^# /); // annotated
      const check = await cli(['config', 'check', '--json'], { SWITCHYARD_CONFIG: '' }, dir);
      expect(check.code).toBe(0);
      const config = JSON.parse(check.stdout) as {
        domains: { name: string; type: string; nextHop?: string; connector?: string }[];
        connectors: { name: string }[];
        sources: { name: string; type: string; url?: string; bindPasswordEnv?: string }[];
      };
      expect(config.domains).toEqual([
        expect.objectContaining({ name: 'contoso.edu', type: 'internalRelay', nextHop: 'onprem' }),
        expect.objectContaining({ name: 'live.contoso.edu', type: 'externalRelay', connector: 'cloud' }),
      ]);
      expect(config.connectors.map((c) => c.name)).toEqual(['onprem', 'cloud', 'internet']);
      expect(config.sources).toEqual([
        expect.objectContaining({ type: 'ldap', url: expect.stringMatching(/^ldaps:\/\//), bindPasswordEnv: 'SWITCHYARD_LDAP_PASSWORD' }),
        expect.objectContaining({ type: 'csvde' }),
      ]);
      const again = await cli(['config', 'init'], { SWITCHYARD_CONFIG: '' }, dir);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain('exists; use --force');
      const out = join(dir, 'other.yaml');
      expect((await cli(['config', 'init', '--out', out, '--force'], {}, dir)).code).toBe(0);
      expect(readFileSync(out, 'utf8')).toBe(text);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('migrate reports what it did, and nothing the second time', async () => {
    const first = await cli(['migrate']);
    expect(first).toMatchObject({
      code: 0,
      stdout: 'routing table: nothing to convert\nmail queue: nothing to move\nmail queue sets: nothing to move\nlayout is now 3\n',
    });
    const second = await cli(['migrate']);
    expect(second).toMatchObject({ code: 0, stdout: 'layout already current (3)\n' });
  });
});
