/** A private slapd per test file, loaded with the committed LDIF fixtures. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSlapd, type EmbeddedSlapd } from '../../testkit/embedded-slapd.js';
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
