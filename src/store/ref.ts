/**
 * How a table version points at a source's state: a full snapshot id ("12"), or a full
 * snapshot with an overlay of deltas on top ("12+15"). Lookups read the overlay first.
 */
export interface SnapshotRef {
  readonly base: string;
  readonly overlay?: string;
}

export function parseRef(value: string): SnapshotRef {
  const [base, overlay] = value.split('+');
  return overlay ? { base: base as string, overlay } : { base: base as string };
}

export function formatRef(ref: SnapshotRef): string {
  return ref.overlay ? `${ref.base}+${ref.overlay}` : ref.base;
}

/** Every snapshot id a reference keeps alive. */
export function refIds(value: string): string[] {
  const r = parseRef(value);
  return r.overlay ? [r.base, r.overlay] : [r.base];
}

/** The snapshot whose meta carries the counts of the state (the overlay when there is one). */
export function topId(value: string): string {
  const r = parseRef(value);
  return r.overlay ?? r.base;
}
