/**
 * LDAP entries that cannot be made into recipient objects (SPEC §2.2): collected during a
 * publish, then split into *held* (the object is in the published state: it keeps its last
 * valid form) and *skipped* (left out), and stored as the source's report.
 */
import { decodeObject } from '../store/codec.js';
import { hmgetSharded, type StateLayout } from '../store/sharded.js';
import { objectRef } from '../store/shards.js';
import { readSourceReport, updateReport, writeSourceReport, type ReportedEntry, type SourceReport } from '../store/source-report.js';
import type { RecipientObject } from '../routing/object.js';
import type { PublishDeps, PublishResult } from './types.js';

export class InvalidEntries {
  /** Entries with an id that could be held, if the published state has their object. */
  readonly candidates: ReportedEntry[] = [];
  readonly skipped: ReportedEntry[] = [];
  readonly held: ReportedEntry[] = [];
  notMailEnabled = 0;

  constructor(readonly source: string) {}

  /** An entry that could not be built; `holdable` when it has an id that may be published. */
  add(id: string, dn: string, reason: string, holdable = id !== ''): void {
    (holdable ? this.candidates : this.skipped).push({ source: this.source, id, dn, reason });
  }

  report(): NonNullable<PublishResult['report']> {
    return { skipped: this.skipped, held: this.held, notMailEnabled: this.notMailEnabled };
  }
}

/**
 * The stored objects of `ids` in a state (overlay on top of base; '' in the overlay is a
 * deletion), by lower-cased id. Ids absent from the state are absent from the map.
 */
export async function storedObjects(deps: PublishDeps, state: StateLayout, ids: readonly string[]): Promise<Map<string, string>> {
  const refs = ids.map((id) => objectRef(id.toLowerCase()));
  const [over, base] = await Promise.all([
    state.overlay ? hmgetSharded(deps.redis, deps.keys, state.overlay, 'obj', refs) : Promise.resolve(refs.map(() => null)),
    hmgetSharded(deps.redis, deps.keys, state.base, 'obj', refs),
  ]);
  const out = new Map<string, string>();
  ids.forEach((id, i) => {
    const json = over[i] ?? base[i] ?? '';
    if (json !== '') out.set(id.toLowerCase(), json);
  });
  return out;
}

/**
 * Splits the candidates into held and skipped by whether `state` has their object; returns
 * the held objects as they are stored there (for a full sync to stage again).
 */
export async function splitHeld(deps: PublishDeps, state: StateLayout | undefined, bad: InvalidEntries): Promise<RecipientObject[]> {
  const found = state
    ? await storedObjects(
        deps,
        state,
        bad.candidates.map((c) => c.id),
      )
    : new Map<string, string>();
  const objects: RecipientObject[] = [];
  for (const c of bad.candidates) {
    const json = found.get(c.id.toLowerCase());
    if (json === undefined) {
      bad.skipped.push(c);
    } else {
      bad.held.push(c);
      objects.push(decodeObject(json));
    }
  }
  bad.candidates.length = 0;
  return objects;
}

/** A full sync's report replaces the source's. */
export async function storeFullReport(deps: PublishDeps, bad: InvalidEntries): Promise<void> {
  const report: SourceReport = { source: bad.source, at: new Date().toISOString(), ...bad.report() };
  await writeSourceReport(deps.redis, deps.keys, report);
}

/** A delta's report updates the source's: `touched` holds the ids the delta read. */
export async function storeDeltaReport(deps: PublishDeps, bad: InvalidEntries, touched: ReadonlySet<string>): Promise<void> {
  const prev = await readSourceReport(deps.redis, deps.keys, bad.source);
  await writeSourceReport(deps.redis, deps.keys, updateReport(prev, bad.source, touched, bad.skipped, bad.held));
}
