import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig, parseConfig } from '../../src/config/load.js';
import { demoConfigObject } from '../helpers/env.js';

const SPEC_EXAMPLE = `
redis:
  url: redis://127.0.0.1:6379
domains:
  - { name: contoso.edu,      type: internalRelay, nextHop: legacy }
  - { name: live.contoso.edu, type: externalRelay, connector: cloud }
  - { name: "*.lab.contoso.edu", type: authoritative }
connectors:
  - { name: onprem,   smartHosts: ["10.0.0.10:25"], tls: opportunistic }
  - { name: cloud,    addressSpaces: [live.contoso.edu], smartHosts: ["[192.0.2.20]:25"], tls: required, caFile: /etc/switchyard/cloud-ca.pem }
  - { name: legacy,   smartHosts: ["[192.0.2.52]:25"] }
  - { name: internet, addressSpaces: ["*"], smartHosts: ["smtp-out.contoso.edu:587"], rewriteOutboundSender: true }
sources:
  - name: corp-ad
    type: ldap
    url: ldaps://dc1.contoso.edu
    caFile: /etc/switchyard/corp-ca.pem
    bindDn: CN=svc-switchyard,OU=Service,DC=contoso,DC=edu
    bindPasswordEnv: SWITCHYARD_LDAP_PASSWORD
    baseDn: DC=contoso,DC=edu
    mailboxConnector: onprem
    priority: 10
    schedule: "0 */6 * * *"
    deltaSchedule: "*/5 * * * * *"
    deletionThreshold: 500
  - { name: students, type: csvde, path: /var/lib/switchyard/students.csv, mailboxConnector: cloud, priority: 5, schedule: "0 * * * *" }
relay:
  listen: ["0.0.0.0:25"]
  hostname: mx1.contoso.edu
  trustedNetworks: ["10.0.0.0/8"]
  maxHops: 30
  maxMessageSize: 36700160
  maxRecipients: 500
  tls: { key: /etc/switchyard/tls.key, cert: /etc/switchyard/tls.crt }
admin:
  listen: 127.0.0.1:8025
`;

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, 'x.yaml', {});
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('configuration', () => {
  it('accepts the SPEC §7.1 example and fills defaults', () => {
    const c = parseConfig(parse(SPEC_EXAMPLE), 'spec.yaml', {});
    expect(c.sources[0]).toMatchObject({ type: 'ldap', scope: 'sub', mapping: 'ad', startTls: false });
    expect(c.connectors[2]?.tls).toBe('opportunistic');
    expect(c.table.versionsKept).toBe(5);
    expect(Object.isFrozen(c.connectors[0])).toBe(true);
  });

  it('names the key path of every problem', () => {
    const raw = demoConfigObject('n', 'redis://127.0.0.1:1');
    (raw.connectors as { smartHosts: string[] }[])[2]!.smartHosts = ['not a host'];
    (raw.domains as { type: string }[])[0]!.type = 'shared';
    expect(problems(raw)).toEqual([
      'domains[0].type: Invalid option: expected one of "authoritative"|"internalRelay"|"externalRelay"',
      'connectors[2].smartHosts[0]: not host:port',
    ]);
  });

  it('checks references between sections and unknown keys', () => {
    const raw = demoConfigObject('n', 'redis://127.0.0.1:1');
    (raw.domains as Record<string, unknown>[])[0]!.nextHop = 'nowhere';
    (raw.sources as Record<string, unknown>[])[1]!.mailboxConnectr = 'cloud';
    expect(problems(raw)).toEqual(['sources[1]: unknown key "mailboxConnectr"']);
    delete (raw.sources as Record<string, unknown>[])[1]!.mailboxConnectr;
    expect(problems(raw)).toEqual(['domains[0].nextHop: no connector named "nowhere"']);
  });

  it('validates cron expressions with node-cron', () => {
    const raw = demoConfigObject('n', 'redis://127.0.0.1:1');
    (raw.sources as Record<string, unknown>[])[0]!.schedule = '99 * * * *';
    expect(problems(raw)).toEqual(['sources[0].schedule: "99 * * * *" is not a valid cron expression']);
  });

  it('refuses secrets written in the file', () => {
    const raw = parse(SPEC_EXAMPLE) as { sources: Record<string, unknown>[] };
    raw.sources[0]!.bindPassword = 'hunter2';
    expect(problems(raw)).toEqual([
      'sources[0].bindPassword: secrets are not allowed in the config file; use bindPasswordEnv or bindPasswordFile',
    ]);
  });

  it('refuses a simple bind over plain ldap:// without startTls, naming url and startTls (SPEC §2.2)', () => {
    const raw = parse(SPEC_EXAMPLE) as { sources: Record<string, unknown>[] };
    raw.sources[0]!.url = 'ldap://dc1.contoso.edu';
    expect(problems(raw)).toEqual([
      'sources[0].url: a simple bind over plain ldap:// sends the password in clear; use ldaps:// or set sources[0].startTls: true',
    ]);
    raw.sources[0]!.startTls = true;
    expect(problems(raw)).toEqual([]);
    // no bindDn: no password to protect (an anonymous read of a public directory)
    const anonymous = parse(SPEC_EXAMPLE) as { sources: Record<string, unknown>[] };
    anonymous.sources[0]!.url = 'ldap://dc1.contoso.edu';
    delete anonymous.sources[0]!.bindDn;
    delete anonymous.sources[0]!.bindPasswordEnv;
    expect(problems(anonymous)).toEqual([]);
  });

  it('refuses an empty bind password, from the variable or the file, naming the key (RFC 4513 §5.1.2)', () => {
    const anonymousBind = 'an empty password is an anonymous bind in disguise (RFC 4513 §5.1.2)';
    const raw = parse(SPEC_EXAMPLE) as { sources: Record<string, unknown>[] };
    const fromEnv = (env: NodeJS.ProcessEnv) => {
      try {
        parseConfig(raw, 'x.yaml', env);
        return [];
      } catch (err) {
        return [...(err as ConfigError).problems];
      }
    };
    expect(fromEnv({ SWITCHYARD_LDAP_PASSWORD: '' })).toEqual([
      `sources[0].bindPasswordEnv: SWITCHYARD_LDAP_PASSWORD is set but empty; ${anonymousBind}`,
    ]);
    expect(fromEnv({ SWITCHYARD_LDAP_PASSWORD: 's3cret' })).toEqual([]);
    expect(fromEnv({})).toEqual([]); // not set here: checked by the process that binds (SY_SECRET)

    const dir = mkdtempSync(join(tmpdir(), 'sy-config-'));
    delete raw.sources[0]!.bindPasswordEnv;
    for (const content of ['', '\n', '\r\n']) {
      writeFileSync(join(dir, 'empty'), content);
      raw.sources[0]!.bindPasswordFile = join(dir, 'empty');
      expect(problems(raw)).toEqual([`sources[0].bindPasswordFile: ${join(dir, 'empty')} is empty; ${anonymousBind}`]);
    }
    writeFileSync(join(dir, 'full'), 's3cret\n');
    raw.sources[0]!.bindPasswordFile = join(dir, 'full');
    expect(problems(raw)).toEqual([]);
  });

  it('readSecret refuses an empty file or variable where the secret is used', async () => {
    const { readSecret } = await import('../../src/config/secrets.js');
    const dir = mkdtempSync(join(tmpdir(), 'sy-secret-'));
    writeFileSync(join(dir, 'empty'), '\n');
    expect(() => readSecret({ file: join(dir, 'empty'), key: 'sources.ad.bindPassword' })).toThrow(
      /^sources\.ad\.bindPasswordFile: .* is empty$/,
    );
    expect(() => readSecret({ env: 'P', key: 'sources.ad.bindPassword' }, { P: '' })).toThrow(
      'sources.ad.bindPasswordEnv: environment variable P is empty',
    );
  });

  it('lets REDIS_URL override the file', () => {
    const c = parseConfig(parse(SPEC_EXAMPLE), 'spec.yaml', { REDIS_URL: 'redis://10.9.9.9:7000' });
    expect(c.redis.url).toBe('redis://10.9.9.9:7000');
  });

  it('reports YAML syntax errors with the line and unreadable files by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-config-'));
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'domains:\n  - { name: contoso.edu\n');
    expect(() => loadConfig(file, {})).toThrow(/bad\.yaml: YAML line \d+/);
    expect(() => loadConfig(join(dir, 'missing.yaml'), {})).toThrow(/missing\.yaml: cannot read: ENOENT/);
    expect(readFileSync(file, 'utf8')).toContain('contoso.edu');
  });
});
