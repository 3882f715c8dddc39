/** A private slapd per test file, loaded with the committed LDIF fixtures. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_DN, startSlapd, type EmbeddedSlapd } from '../../testkit/embedded-slapd.js';
import { FIXTURES } from './env.js';

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
