/**
 * The deletion guard (SPEC §3.3): refuse a publish that would remove more than the
 * threshold of a source's objects, more than 10 % of them, more than 10 % of its addresses
 * (the threshold counts objects only), or every object of a source that had some.
 */
export interface GuardInput {
  readonly source: string;
  /** Objects of the source before the publish, and how many it would remove. */
  readonly previous: number;
  readonly removed: number;
  readonly threshold: number;
  /** Addresses of the source before the publish, and how many it would remove (objects kept or not). */
  readonly previousAddresses?: number;
  readonly removedAddresses?: number;
}

/** The share of a source, objects or addresses, a publish may remove without --allow-mass-delete. */
export const MAX_SHARE = 0.1;

const FORCE =
  'the table is unchanged. Check the input (base DN, filter, credentials, a truncated file), or re-run with --allow-mass-delete to force it';

const pct = (part: number, whole: number): string => ((part / whole) * 100).toFixed(1);

function objectRefusal(source: string, previous: number, removed: number, threshold: number): string | undefined {
  if (removed === 0 || previous === 0) return undefined;
  let why: string | undefined;
  if (removed >= previous) why = 'it would empty the source';
  else if (removed > threshold) why = `more than the deletionThreshold of ${threshold}`;
  else if (removed / previous > MAX_SHARE) why = 'more than 10 % of the source';
  if (why === undefined) return undefined;
  return `refused: ${removed} of ${previous} objects (${pct(removed, previous)} %) of source "${source}" would be removed, ${why}; ${FORCE}`;
}

function addressRefusal(source: string, previous: number, removed: number): string | undefined {
  if (removed === 0 || previous === 0 || removed / previous <= MAX_SHARE) return undefined;
  return `refused: ${removed} of ${previous} addresses (${pct(removed, previous)} %) of source "${source}" would be removed, more than 10 % of its addresses; ${FORCE}`;
}

export function deletionGuard(input: GuardInput): string | undefined {
  const { source, previous, removed, threshold } = input;
  return (
    objectRefusal(source, previous, removed, threshold) ?? addressRefusal(source, input.previousAddresses ?? 0, input.removedAddresses ?? 0)
  );
}
