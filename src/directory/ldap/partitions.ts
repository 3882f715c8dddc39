/**
 * Partitions of a full read (pure): disjoint parts of the search scope that separate
 * connections read at the same time. AD splits `uSNChanged` (indexed) into ranges up to
 * the rootDSE's `highestCommittedUSN`, the last range open-ended so that an entry changed
 * during the sync is still read; a generic directory uses the configured filters plus a
 * remainder filter matching what none of them matches. Either way the union of the parts
 * is exactly the scope; an entry read twice (changed between two parts, or overlapping
 * configured filters) is dropped by id when it comes again.
 */

/** `connections`: the parallel searches (and, for usn, the number of ranges). */
export type PartitionPlan =
  | { readonly by: 'usn'; readonly connections: number }
  | { readonly by: 'filters'; readonly filters: readonly string[]; readonly connections: number };

const wrap = (f: string): string => (f.startsWith('(') ? f : `(${f})`);

/**
 * `count` uSNChanged ranges over [0, highest]: `(uSNChanged<=b1)`, `(&(uSNChanged>=b1+1)(uSNChanged<=b2))`,
 * …, `(uSNChanged>=bk-1 + 1)`. Every AD object has a uSNChanged, so the ranges cover the scope.
 */
export function usnRanges(highest: number, count: number): string[] {
  const n = Math.max(1, Math.min(count, highest + 1));
  if (n === 1) return ['(uSNChanged>=0)'];
  const step = Math.ceil((highest + 1) / n);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const from = i * step;
    const to = from + step - 1;
    if (i === 0) out.push(`(uSNChanged<=${to})`);
    else if (i === n - 1) out.push(`(uSNChanged>=${from})`);
    else out.push(`(&(uSNChanged>=${from})(uSNChanged<=${to}))`);
  }
  return out;
}

/** The configured filters and the remainder that matches what none of them matches. */
export function filterParts(filters: readonly string[]): string[] {
  const parts = filters.map(wrap);
  const any = parts.length === 1 ? (parts[0] as string) : `(|${parts.join('')})`;
  return [...parts, `(!${any})`];
}

/** A part's filter ANDed with the search filter of the whole scope. */
export function partFilter(scopeFilter: string, part: string): string {
  return `(&${wrap(scopeFilter)}${part})`;
}

/** The filters of a plan (the rootDSE's highestCommittedUSN for `usn`); undefined: one search. */
export function planFilters(plan: PartitionPlan, highestUsn: number | undefined): string[] | undefined {
  if (plan.by === 'filters') return filterParts(plan.filters);
  return highestUsn === undefined ? undefined : usnRanges(highestUsn, plan.connections);
}
