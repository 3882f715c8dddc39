/**
 * Parallel partitioned full reads against a real slapd: the union of the parts is exactly
 * the scope (nothing missed, nothing twice), deletions are still detected, and a server
 * that cannot serve the parts makes the read fall back to one search. Also the page size a
 * source's full and delta reads ask for.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Client } from 'ldapts';
import type { LdapSourceConfig } from '../../src/config/schema.js';
import { readLdapDelta } from '../../src/directory/ldap/delta.js';
import { readLdap } from '../../src/directory/ldap/reader.js';
import type { PartitionReport } from '../../src/directory/ldap/parallel.js';
import { syncSource } from '../../src/pipeline/sync-source.js';
import { ADMIN_DN } from '../../testkit/embedded-slapd.js';
import { slapdTestEnv } from '../helpers/slapd.js';

const t = slapdTestEnv();

const source = (patch: Partial<LdapSourceConfig> = {}): LdapSourceConfig => ({
  ...(t.env.source('corp-ad') as LdapSourceConfig),
  ...patch,
});

/** Every item a full read yields: entry ids (or DNs of unmappable entries), and the partition report. */
async function readAll(s: LdapSourceConfig): Promise<{ keys: string[]; report?: PartitionReport }> {
  const keys: string[] = [];
  let report: PartitionReport | undefined;
  for await (const page of readLdap(s, { password: t.slapd.servicePassword, pageSize: 7, onPartitions: (r) => (report = r) })) {
    for (const item of page) keys.push('error' in item ? `dn:${item.error.origin}` : item.entry.id);
  }
  return { keys, ...(report ? { report } : {}) };
}

describe('partitioned full reads (slapd)', () => {
  it('overlapping filters that do not cover the scope still read every entry exactly once (remainder part, dedupe by id)', async () => {
    const single = await readAll(source());
    expect(single.keys.length).toBeGreaterThan(200);
    expect(new Set(single.keys).size).toBe(single.keys.length);
    // (uSNChanged<=1100) and (uSNChanged>=1050) overlap on 1050..1100; entries without
    // uSNChanged, and the contacts and groups of other OUs, are left to the remainder part
    const parted = await readAll(
      source({ partitions: { by: 'filters', filters: ['(uSNChanged<=1100)', '(uSNChanged>=1050)', '(cn=Lovelace*)'], connections: 3 } }),
    );
    expect(parted.report).toEqual({ searches: 4, connections: 3 });
    expect(parted.keys.length).toBe(single.keys.length);
    expect([...parted.keys].sort()).toEqual([...single.keys].sort());
  });

  it('a partitioned full sync publishes the same table and still detects deletions', async () => {
    const partitions = {
      by: 'filters' as const,
      filters: ['(uSNChanged<=1090)', '(&(uSNChanged>=1091)(uSNChanged<=1180))'],
      connections: 2,
    };
    const plain = await syncSource(t.env.deps, source(), { env: t.secrets, dryRun: true });
    const first = await syncSource(t.env.deps, source({ partitions }), { env: t.secrets });
    expect(first.partitions).toEqual({ searches: 3, connections: 2 });
    expect(first.counts).toMatchObject({ objects: plain.counts.objects, added: plain.counts.objects, invalid: 0 });
    expect(first.counts.conflicts).toBe(plain.counts.conflicts);

    const admin = new Client({ url: t.slapd.ldapsUrl, tlsOptions: { ca: [readFileSync(t.slapd.caFile)] } });
    await admin.bind(ADMIN_DN, t.slapd.adminPassword);
    try {
      await admin.del('cn=Lovelace\\2C Ada,ou=Staff,dc=contoso,dc=edu');
    } finally {
      await admin.unbind();
    }
    const second = await syncSource(t.env.deps, source({ partitions }), { env: t.secrets });
    expect(second.counts).toMatchObject({ objects: plain.counts.objects - 1, removed: 1, added: 0, changed: 0, invalid: 0 });
  });

  it('usn partitions on a directory without highestCommittedUSN fall back to one search, and say so', async () => {
    const single = await readAll(source());
    const r = await readAll(source({ partitions: { by: 'usn', connections: 4 } }));
    expect(r.report).toEqual({ searches: 1, connections: 1, fallback: 'the rootDSE has no highestCommittedUSN: one search' });
    expect([...r.keys].sort()).toEqual([...single.keys].sort());
  });

  it("a full read asks for pages of the source's pageSize (default 200; a read's own pageSize wins)", async () => {
    const sizes = async (s: LdapSourceConfig, pageSize?: number): Promise<number[]> => {
      const out: number[] = [];
      for await (const page of readLdap(s, { password: t.slapd.servicePassword, ...(pageSize ? { pageSize } : {}) })) out.push(page.length);
      return out;
    };
    const total = (await sizes(source({ pageSize: 1000 }))).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(200);
    const bySource = await sizes(source({ pageSize: 30 }));
    expect(bySource.length).toBe(Math.ceil(total / 30)); // one batch per server page, every one full but the last
    expect(bySource.slice(0, -1).every((n) => n === 30)).toBe(true);
    expect(bySource.reduce((a, b) => a + b, 0)).toBe(total);
    expect((await sizes(source()))[0]).toBe(200);
    const byRead = await sizes(source({ pageSize: 30 }), 11);
    expect(byRead.length).toBe(Math.ceil(total / 11));
    expect(byRead.slice(0, -1).every((n) => n === 11)).toBe(true);
  });
  it("a delta read asks for pages of the source's pageSize (a read's own pageSize wins)", async () => {
    const since = { mode: 'generic', modifyTimestamp: '19700101000000Z' } as const; // every entry changed since
    const pages = async (source: LdapSourceConfig, pageSize?: number): Promise<number[]> => {
      const out: number[] = [];
      const opts = { password: t.slapd.servicePassword, ...(pageSize ? { pageSize } : {}) };
      for await (const page of readLdapDelta(source, since, {}, opts)) out.push(page.length);
      return out;
    };
    // the generic delta (modifyTimestamp) of the openldap mapping: slapd has no highestCommittedUSN
    const people = (pageSize: number) => source({ mapping: 'openldap', baseDn: 'ou=People,dc=contoso,dc=edu', pageSize });
    const whole = await pages(people(1000));
    expect(whole).toHaveLength(1);
    const total = whole[0] as number;
    expect(total).toBeGreaterThan(4);
    const pagedBy = (sizes: number[], size: number): void => {
      expect(sizes).toHaveLength(Math.ceil(total / size));
      expect(sizes.slice(0, -1).every((n) => n === size)).toBe(true);
    };
    pagedBy(await pages(people(2)), 2); // the source's
    pagedBy(await pages(people(1000), 3), 3); // the read's own
  });
});
