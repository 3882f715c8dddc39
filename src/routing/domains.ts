/**
 * Accepted domains and connector address spaces (SPEC §1, §4 step 2). Pure.
 * An exact entry wins over `*.domain`; `*.domain` covers subdomains only; among
 * wildcards the longest (most specific) wins; `*` is the default address space.
 */
import type { ConnectorConfig, DomainConfig } from '../config/schema.js';

/** How specific a pattern is for `domain`: -1 no match, higher is more specific. */
export function matchSpecificity(pattern: string, domain: string): number {
  const p = pattern.toLowerCase();
  const d = domain.toLowerCase();
  if (p === '*') return 0;
  if (p.startsWith('*.')) {
    const base = p.slice(1); // ".lab.contoso.edu"
    return d.endsWith(base) && d.length > base.length ? base.length : -1;
  }
  return p === d ? 100_000 : -1;
}

export function classifyDomain(domains: readonly DomainConfig[], domain: string): DomainConfig | undefined {
  let best: DomainConfig | undefined;
  let bestScore = 0; // `*` alone is not an accepted-domain pattern
  for (const d of domains) {
    const score = matchSpecificity(d.name, domain);
    if (score > bestScore) {
      best = d;
      bestScore = score;
    }
  }
  return best;
}

/** The connector whose address spaces best match `domain`, or undefined when none do. */
export function bestConnector(connectors: readonly ConnectorConfig[], domain: string): ConnectorConfig | undefined {
  let best: ConnectorConfig | undefined;
  let bestScore = -1;
  for (const c of connectors) {
    for (const space of c.addressSpaces) {
      const score = matchSpecificity(space, domain);
      if (score > bestScore) {
        best = c;
        bestScore = score;
      }
    }
  }
  return best;
}
