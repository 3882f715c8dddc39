/** The `galSync:` list (SPEC §10): one entry per direction, references checked, no inline secret. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { demoConfigObject } from '../helpers/env.js';

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw, 'x.yaml', {});
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

function withGalSync(...entries: Record<string, unknown>[]): Record<string, unknown> {
  const raw = demoConfigObject('n', 'redis://127.0.0.1:1');
  (raw.sources as Record<string, unknown>[]).push({
    name: 'corp-ad',
    type: 'ldap',
    url: 'ldaps://dc1.contoso.edu',
    bindDn: 'CN=svc,DC=contoso,DC=edu',
    bindPasswordEnv: 'P',
    baseDn: 'DC=contoso,DC=edu',
    mailboxConnector: 'onprem',
  });
  raw.galSync = entries;
  return raw;
}

const OK = { from: 'students', to: 'corp-ad', ou: 'OU=Cloud Contacts,DC=contoso,DC=edu', routingDomain: 'live.contoso.edu' };

describe('galSync configuration', () => {
  it('accepts a direction with a schedule and a write account, and fills the threshold', () => {
    const c = parseConfig(
      withGalSync({ ...OK, schedule: '*/15 * * * *', bindDn: 'CN=galsync,DC=contoso,DC=edu', bindPasswordFile: '/run/secrets/g' }),
      'x.yaml',
      {},
    );
    expect(c.galSync).toEqual([expect.objectContaining({ ...OK, deletionThreshold: 500, bindPasswordFile: '/run/secrets/g' })]);
    expect(parseConfig(demoConfigObject('n', 'redis://127.0.0.1:1'), 'x.yaml', {}).galSync).toEqual([]);
  });

  it('names the key of every problem', () => {
    expect(problems(withGalSync({ ...OK, from: 'nobody', to: 'students', schedule: '99 * * * *', bindDn: 'CN=x' }))).toEqual([
      'galSync[0].from: no source named "nobody"',
      'galSync[0].to: no ldap source named "students" (contacts are written over LDAP)',
      'galSync[0].schedule: "99 * * * *" is not a valid cron expression',
      'galSync[0].bindPasswordEnv: a bindDn needs bindPasswordEnv or bindPasswordFile',
    ]);
    expect(problems(withGalSync({ ...OK, routingDomain: 'not a domain' }))).toEqual([
      'galSync[0].routingDomain: not a domain name (or *.domain)',
    ]);
  });

  it('refuses a password written in the file', () => {
    expect(problems(withGalSync({ ...OK, bindPassword: 'hunter2' }))[0]).toMatch(/^galSync\[0\]\.bindPassword: /);
  });
});
