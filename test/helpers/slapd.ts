/** A private slapd per test file, loaded with the committed LDIF fixtures. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { SERVICE_DN, startSlapd, type EmbeddedSlapd } from '../../testkit/embedded-slapd.js';
import { FIXTURES, testEnv, type TestEnv } from './env.js';

export async function fixtureSlapd(): Promise<EmbeddedSlapd & { cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-slapd-'));
  const slapd = await startSlapd({ dir, ldif: [join(FIXTURES, 'ldap', 'contoso.ldif'), join(FIXTURES, 'ldap', 'plain.ldif')] });
  return Object.assign(slapd, {
    async cleanup() {
      await slapd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** The AD-mapped `corp-ad` source config of the tests that sync this slapd over LDAPS (password in SY_TEST_LDAP_PASSWORD). */
export function slapdSource(slapd: EmbeddedSlapd, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'corp-ad',
    type: 'ldap',
    url: slapd.ldapsUrl,
    caFile: slapd.caFile,
    bindDn: SERVICE_DN,
    bindPasswordEnv: 'SY_TEST_LDAP_PASSWORD',
    baseDn: 'dc=contoso,dc=edu',
    mailboxConnector: 'onprem',
    ...over,
  };
}

/** What slapdTestEnv gives a test file, filled in before its first test. */
export interface SlapdTestEnv {
  slapd: EmbeddedSlapd & { cleanup(): Promise<void> };
  env: TestEnv;
  /** The environment a sync reads the bind password from (SY_TEST_LDAP_PASSWORD). */
  readonly secrets: { SY_TEST_LDAP_PASSWORD: string };
}

/**
 * A private fixture slapd and a test environment whose `corp-ad` source (priority 20) syncs
 * it, for the test file that calls this at its top level: started before its tests, stopped after.
 */
export function slapdTestEnv(): SlapdTestEnv {
  const t = { secrets: { SY_TEST_LDAP_PASSWORD: '' } } as SlapdTestEnv;
  beforeAll(async () => {
    t.slapd = await fixtureSlapd();
    t.secrets.SY_TEST_LDAP_PASSWORD = t.slapd.servicePassword;
    t.env = await testEnv((raw) => {
      (raw.sources as unknown[]).push(slapdSource(t.slapd, { priority: 20 }));
    });
  });
  afterAll(async () => {
    await t.env?.cleanup();
    await t.slapd?.cleanup();
  });
  return t;
}
