/**
 * The deletion guard (SPEC §3.3): refuse a publish that would remove more than the
 * threshold, more than 10 % of a source, or every object of a source that had some.
 */
export interface GuardInput {
  readonly source: string;
  readonly previous: number;
  readonly removed: number;
  readonly threshold: number;
}

export function deletionGuard(input: GuardInput): string | undefined {
  const { source, previous, removed, threshold } = input;
  if (removed === 0 || previous === 0) return undefined;
  const share = removed / previous;
  let why: string | undefined;
  if (removed === previous) why = 'it would empty the source';
  else if (removed > threshold) why = `more than the deletionThreshold of ${threshold}`;
  else if (share > 0.1) why = 'more than 10 % of the source';
  if (why === undefined) return undefined;
  const pct = (share * 100).toFixed(1);
  return `refused: ${removed} of ${previous} objects (${pct} %) of source "${source}" would be removed, ${why}; the table is unchanged. Check the input (base DN, filter, credentials, a truncated file), or re-run with --allow-mass-delete to force it`;
}
