import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfig } from '../../src/config/load.js';
import { filterParts, partFilter, planFilters, usnRanges } from '../../src/directory/ldap/partitions.js';

/** Evaluates the (&(uSNChanged>=a)(uSNChanged<=b)) forms usnRanges writes. */
function matches(filter: string, usn: number): boolean {
  const ge = /uSNChanged>=(\d+)/.exec(filter);
  const le = /uSNChanged<=(\d+)/.exec(filter);
  return (ge === null || usn >= Number(ge[1])) && (le === null || usn <= Number(le[1]));
}

function problems(partitions: unknown, mapping = 'ad', extra: Record<string, unknown> = {}): string[] {
  const raw = {
    connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:25'] }],
    sources: [{ name: 'ad', type: 'ldap', url: 'ldaps://dc1', baseDn: 'dc=x', mailboxConnector: 'onprem', mapping, partitions, ...extra }],
  };
  try {
    parseConfig(raw, 'x.yaml', {});
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe('partitions of a full read', () => {
  it('uSNChanged ranges cover every USN exactly once, the last range open-ended (changed during the sync)', () => {
    for (const [highest, count] of [
      [999, 4],
      [1000, 3],
      [5, 8],
      [0, 4],
      [12_345, 2],
    ] as const) {
      const parts = usnRanges(highest, count);
      expect(parts.length).toBe(Math.min(count, highest + 1));
      for (const usn of [0, 1, highest - 1, highest, highest + 1, highest + 10_000, Math.floor(highest / 2), Math.floor(highest / 3) + 1]) {
        if (usn < 0) continue;
        expect(parts.filter((p) => matches(p, usn)).length, `usn ${usn} in ${parts.join(' ')}`).toBe(1);
      }
    }
    expect(usnRanges(999, 4)).toEqual([
      '(uSNChanged<=249)',
      '(&(uSNChanged>=250)(uSNChanged<=499))',
      '(&(uSNChanged>=500)(uSNChanged<=749))',
      '(uSNChanged>=750)',
    ]);
  });

  it('configured filters get a remainder part matching what none of them matches; each part is ANDed with the scope filter', () => {
    expect(filterParts(['(ou=a)', '(ou=b)'])).toEqual(['(ou=a)', '(ou=b)', '(!(|(ou=a)(ou=b)))']);
    expect(filterParts(['(ou=a)'])).toEqual(['(ou=a)', '(!(ou=a))']);
    expect(partFilter('(objectClass=user)', '(ou=a)')).toBe('(&(objectClass=user)(ou=a))');
    expect(planFilters({ by: 'usn', connections: 2 }, undefined)).toBeUndefined();
    expect(planFilters({ by: 'usn', connections: 2 }, 9)).toEqual(['(uSNChanged<=4)', '(uSNChanged>=5)']);
  });

  it('config: partitions are checked with the key path (by, filters, connections; usn only with mapping ad)', () => {
    expect(problems({ by: 'usn' })).toEqual([]);
    expect(problems({ by: 'filters', filters: ['(ou=a)'], connections: 3 })).toEqual([]);
    expect(problems({ by: 'filters' })).toEqual(['sources[0].partitions.filters: Invalid input: expected array, received undefined']);
    expect(problems({ by: 'filters', filters: ['ou=a'] })[0]).toMatch(
      /^sources\[0\]\.partitions\.filters\[0\]: an LDAP filter in parentheses/,
    );
    expect(problems({ by: 'filters', filters: ['(&(ou=a)'] })).toEqual(['sources[0].partitions.filters[0]: unbalanced parentheses']);
    expect(problems({ by: 'usn', connections: 12 })[0]).toMatch(/^sources\[0\]\.partitions\.connections: /);
    expect(problems({ by: 'ranges' })[0]).toMatch(/^sources\[0\]\.partitions\.by: /);
    expect(problems({ by: 'usn' }, 'openldap')).toEqual([
      'sources[0].partitions.by: usn needs mapping: ad (uSNChanged and highestCommittedUSN); use by: filters',
    ]);
  });

  it('config: pageSize is a whole number of entries from 1 to 1000 (AD serves at most 1000), 200 when absent', () => {
    const parsed = parseConfig(
      {
        connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:25'] }],
        sources: [{ name: 'ad', type: 'ldap', url: 'ldaps://dc1', baseDn: 'dc=x', mailboxConnector: 'onprem' }],
      },
      'x.yaml',
      {},
    );
    expect(parsed.sources[0]).toMatchObject({ pageSize: 200 });
    expect(problems(undefined, 'ad', { pageSize: 1000 })).toEqual([]);
    expect(problems(undefined, 'ad', { pageSize: 1 })).toEqual([]);
    for (const bad of [0, 1001, 2.5, '500']) expect(problems(undefined, 'ad', { pageSize: bad })[0]).toMatch(/^sources\[0\]\.pageSize: /);
  });
});
