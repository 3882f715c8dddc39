/**
 * `switchyard config check` refuses insecure LDAP binds (SPEC §2.2): a simple bind over
 * plain ldap:// without StartTLS, and an empty password from its variable or its file,
 * each named by its key. Runs the built CLI (dist/); no server needed.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
const dir = mkdtempSync(join(tmpdir(), 'sy-config-check-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function check(file: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'config', 'check', '--config', file],
      { env: { ...process.env, REDIS_URL: '', SY_CHECK_PASSWORD: undefined, ...env } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

function configWith(name: string, source: Record<string, unknown>): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      redis: { url: 'redis://127.0.0.1:6379' },
      connectors: [{ name: 'onprem', smartHosts: ['10.0.0.10:25'] }],
      sources: [
        {
          name: 'corp-ad',
          type: 'ldap',
          bindDn: 'CN=svc,DC=contoso,DC=edu',
          baseDn: 'DC=contoso,DC=edu',
          mailboxConnector: 'onprem',
          ...source,
        },
      ],
    }),
  );
  return file;
}

describe('config check: LDAP bind security', () => {
  it('refuses ldap:// with a bindDn and no startTls, naming sources[0].url and startTls; accepts startTls and ldaps', async () => {
    const plain = await check(configWith('plain.yaml', { url: 'ldap://dc1.contoso.edu', bindPasswordEnv: 'SY_CHECK_PASSWORD' }));
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain(
      'plain.yaml: sources[0].url: a simple bind over plain ldap:// sends the password in clear; use ldaps:// or set sources[0].startTls: true',
    );
    const tls = await check(
      configWith('starttls.yaml', { url: 'ldap://dc1.contoso.edu', startTls: true, bindPasswordEnv: 'SY_CHECK_PASSWORD' }),
    );
    expect(tls).toMatchObject({ code: 0, stderr: '' });
    const ldaps = await check(configWith('ldaps.yaml', { url: 'ldaps://dc1.contoso.edu', bindPasswordEnv: 'SY_CHECK_PASSWORD' }));
    expect(ldaps).toMatchObject({ code: 0, stderr: '' });
  });

  it('refuses an empty password file and an empty password variable, naming the key', async () => {
    const empty = join(dir, 'empty-password');
    writeFileSync(empty, '\n');
    const file = await check(configWith('file.yaml', { url: 'ldaps://dc1.contoso.edu', bindPasswordFile: empty }));
    expect(file.code).toBe(1);
    expect(file.stderr).toContain(
      `file.yaml: sources[0].bindPasswordFile: ${empty} is empty; an empty password is an anonymous bind in disguise (RFC 4513 §5.1.2)`,
    );
    const variable = await check(configWith('env.yaml', { url: 'ldaps://dc1.contoso.edu', bindPasswordEnv: 'SY_CHECK_PASSWORD' }), {
      SY_CHECK_PASSWORD: '',
    });
    expect(variable.code).toBe(1);
    expect(variable.stderr).toContain('env.yaml: sources[0].bindPasswordEnv: SY_CHECK_PASSWORD is set but empty');
  });
});
