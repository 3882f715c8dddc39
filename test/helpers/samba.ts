/**
 * A real Samba AD DC per test file, seeded over LDAPS as Administrator with a small
 * organisation: mailboxes, a disabled room mailbox, a mail user and a mail contact.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { AD_BASE, AD_SERVICE_DN, startSamba, type EmbeddedSamba } from '../../testkit/embedded-samba.js';
import { testEnv, type TestEnv } from './env.js';

export interface SeedObject {
  readonly dn: string;
  readonly attrs: Record<string, string | string[]>;
}

export const AD_SEED: SeedObject[] = [
  { dn: `OU=Staff,${AD_BASE}`, attrs: { objectClass: 'organizationalUnit' } },
  { dn: `OU=Contacts,${AD_BASE}`, attrs: { objectClass: 'organizationalUnit' } },
  {
    dn: `CN=Ada Lovelace,OU=Staff,${AD_BASE}`,
    attrs: {
      objectClass: 'user',
      sAMAccountName: 'ada',
      mail: 'Ada.Lovelace@contoso.edu',
      proxyAddresses: ['SMTP:Ada.Lovelace@contoso.edu', 'smtp:ada@contoso.edu', 'X500:/o=Contoso/cn=ada'],
      mailNickname: 'ada',
    },
  },
  {
    dn: `CN=Brian Kernighan,OU=Staff,${AD_BASE}`,
    attrs: {
      objectClass: 'user',
      sAMAccountName: 'brian',
      proxyAddresses: ['SMTP:brian@contoso.edu', 'smtp:bwk@contoso.edu'],
      targetAddress: 'SMTP:brian@live.contoso.edu',
      mailNickname: 'brian',
    },
  },
  {
    dn: `CN=Room 101,OU=Staff,${AD_BASE}`,
    attrs: { objectClass: 'user', sAMAccountName: 'room101', proxyAddresses: ['SMTP:room-101@contoso.edu'], userAccountControl: '514' },
  },
  {
    dn: `CN=Carol Partner,OU=Contacts,${AD_BASE}`,
    attrs: {
      objectClass: 'contact',
      proxyAddresses: ['SMTP:carol@partner.example', 'smtp:carol.partner@contoso.edu'],
      targetAddress: 'SMTP:carol@partner.example',
      mail: 'carol@partner.example',
    },
  },
  // enough staff (and addresses) that one deletion stays under the deletion guard's 10 %
  ...Array.from({ length: 16 }, (_, i) => ({
    dn: `CN=Staff ${i},OU=Staff,${AD_BASE}`,
    attrs: {
      objectClass: 'user',
      sAMAccountName: `staff${i}`,
      proxyAddresses: [`SMTP:staff${i}@contoso.edu`, `smtp:staff${i}.alt@contoso.edu`],
    },
  })),
];

export async function adminClient(dc: EmbeddedSamba): Promise<Client> {
  const client = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [readFileSync(dc.caFile)] } });
  await client.bind(dc.adminDn, dc.adminPassword);
  return client;
}

export async function seededSamba(): Promise<EmbeddedSamba & { cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-samba-'));
  const dc = await startSamba(dir);
  const client = await adminClient(dc);
  try {
    for (const o of AD_SEED) await client.add(o.dn, o.attrs);
  } finally {
    await client.unbind();
  }
  return Object.assign(dc, {
    async cleanup() {
      await dc.stop();
      // samba's own worker processes outlive its main one by a moment and may still write
      // there (seen once: ENOTEMPTY): retried as Node's rm does for that error
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 20, retryDelay: 100 });
      } catch {
        // a samba worker still writing after the retries: a temp directory left, not a test failure
      }
    },
  });
}

/** The `corp-ad` source config of the tests that sync the seeded DC over LDAPS (password in SY_TEST_AD_PASSWORD). */
export function adSource(dc: EmbeddedSamba, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'corp-ad',
    type: 'ldap',
    url: dc.ldapsUrl,
    caFile: dc.caFile,
    bindDn: AD_SERVICE_DN,
    bindPasswordEnv: 'SY_TEST_AD_PASSWORD',
    baseDn: AD_BASE,
    mailboxConnector: 'onprem',
    priority: 20,
    ...over,
  };
}

export type SeededSamba = Awaited<ReturnType<typeof seededSamba>>;

export interface SeededAd {
  readonly dc: SeededSamba;
  /** The test environment, its config with `corp-ad` on the DC added (or as `adjust` sets it). */
  readonly env: TestEnv;
  /** What the `corp-ad` source's bindPasswordEnv names. */
  readonly secrets: { SY_TEST_AD_PASSWORD: string };
}

/** A test file's seeded DC and environment (its `beforeAll`); `cleanupAd` is its `afterAll`. */
export async function seededAd(adjust?: (raw: Record<string, unknown>, dc: SeededSamba) => void): Promise<SeededAd> {
  const dc = await seededSamba();
  try {
    const env = await testEnv((raw) => {
      if (adjust) adjust(raw, dc);
      else (raw.sources as unknown[]).push(adSource(dc));
    });
    return { dc, env, secrets: { SY_TEST_AD_PASSWORD: dc.servicePassword } };
  } catch (err) {
    await dc.cleanup();
    throw err;
  }
}

export async function cleanupAd(ad: Partial<SeededAd>): Promise<void> {
  await ad.env?.cleanup();
  await ad.dc?.cleanup();
}
