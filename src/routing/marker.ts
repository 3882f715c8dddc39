/**
 * The GAL-sync marker (SPEC §10): every contact `contacts apply` (or an export) creates
 * carries, in `adminDescription`, `switchyard-galsync:<origin source>:<origin id>`. It is
 * how apply knows the objects it manages, and how the merge knows a contact is the mirror
 * of an object of another source. `adminDescription` exists on every AD object class
 * (`top`) and is invisible in the address book. Pure.
 */
export const MARKER_ATTRIBUTE = 'adminDescription';
export const MARKER_PREFIX = 'switchyard-galsync:';

/** The object a managed contact mirrors. */
export interface MirrorOrigin {
  readonly source: string;
  readonly id: string;
}

export function formatMarker(origin: MirrorOrigin): string {
  return `${MARKER_PREFIX}${origin.source}:${origin.id}`;
}

/** The origin a marker names; undefined for any other value (a hand-written adminDescription). */
export function parseMarker(value: string | undefined): MirrorOrigin | undefined {
  if (value === undefined || !value.startsWith(MARKER_PREFIX)) return undefined;
  const rest = value.slice(MARKER_PREFIX.length);
  const colon = rest.indexOf(':'); // source names have no ':' (config: letters, digits, _ . -)
  if (colon <= 0 || colon === rest.length - 1) return undefined;
  return { source: rest.slice(0, colon), id: rest.slice(colon + 1) };
}

/** Same object: source names exactly, ids ignoring case (DNs and GUIDs). */
export function sameOrigin(a: MirrorOrigin, b: MirrorOrigin): boolean {
  return a.source === b.source && a.id.toLowerCase() === b.id.toLowerCase();
}

/**
 * SPEC §10 in the merge: of the holders of one address, those that are mirrors of another
 * holder are not rivals (not a conflict). Holders keep their order; the first is the winner.
 */
export function rivals<T extends { readonly source: string; readonly id: string; readonly mirrorOf?: MirrorOrigin | undefined }>(
  holders: readonly T[],
): T[] {
  return holders.filter((h) => h.mirrorOf === undefined || !holders.some((o) => o !== h && sameOrigin(h.mirrorOf as MirrorOrigin, o)));
}
