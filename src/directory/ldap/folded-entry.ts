/**
 * Entries of the sync's own searches, folded by the lean decoder (lean-entry.ts): in place
 * of ldapts's object, one with only `dn`, its attributes folded as foldRanges folds
 * ldapts's object (mapping.ts) under a symbol. session.ts marks its searches with
 * `foldedRequest` and reads their entries with `leanAttributes`.
 */
const FOLDED = Symbol('folded attributes');

/** Folded attributes: lower-cased names (as foldRanges), every value in an array. */
export type FoldedAttributes = Map<string, (string | Buffer)[]>;

/**
 * The object a folded entry gives in place of ldapts's: its DN and its attributes already
 * folded. It has no property per attribute: ldapts's object gains one per requested
 * attribute by keyed stores (18 with the AD mapping), and from about 16 V8 turns it into a
 * slow dictionary object (`%HasFastProperties`): B2, docs/benchmarks.md.
 */
export class FoldedEntry {
  /** Under a symbol: not an own key, so no reader of ldapts's objects takes it for an attribute. */
  readonly [FOLDED]: FoldedAttributes;
  constructor(
    readonly dn: string,
    attributes: FoldedAttributes,
  ) {
    this[FOLDED] = attributes;
  }
}

/** The attribute arrays of searches whose entries are read only through `dn` and `leanAttributes`. */
const foldedRequests = new WeakSet<readonly string[]>();

/**
 * Marks `attributes` (a search's own array, as given to ldapts) so that the lean decoder
 * gives the search's entries folded: each object has only `dn`, its attributes are read
 * by `leanAttributes`. An entry the fold cannot take as it is (an attribute type with a `;`
 * option such as a range or `;binary`, a name twice, a `dn` or `controls` attribute) is
 * still given as ldapts's object, and so is one ldapts parses itself (controls after it, bytes
 * the lean decoder does not expect): read it with foldRanges.
 */
export function foldedRequest(attributes: string[]): string[] {
  foldedRequests.add(attributes);
  return attributes;
}

/** Whether a search's entries are given folded (its attributes marked by `foldedRequest`). */
export function isFoldedRequest(attributes: readonly string[]): boolean {
  return foldedRequests.has(attributes);
}

/**
 * The attributes of `raw`, a folded entry's object, already folded; undefined for any other
 * object (fold it with foldRanges). The requested attributes ldapts adds as `[]` are absent
 * here: an empty and an absent attribute read the same (`get(name) ?? []`).
 */
export function leanAttributes(raw: object): FoldedAttributes | undefined {
  return raw instanceof FoldedEntry ? raw[FOLDED] : undefined;
}
