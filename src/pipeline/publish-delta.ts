/**
 * Applies a delta (changed and deleted objects of one source) to the published table:
 * the changes go into a new overlay on top of the source's full snapshot (a copy of the
 * previous overlay plus this delta), which is then published in the same atomic step as
 * a full snapshot. Cost is proportional to the changes, not to the directory.
 */
import { buildObject, objectKey, rankKey } from '../routing/object.js';
import { decodeObject, encodeObject } from '../store/codec.js';
import { shardKeys } from '../store/keys.js';
import { hgetallSharded, hlenSharded, hmgetSharded, type SnapshotLayout, type StateLayout } from '../store/sharded.js';
import { chooseShards, objectRef, refKey } from '../store/shards.js';
import { formatRef, topId } from '../store/ref.js';
import { runScript, scripts } from '../store/scripts.js';
import { addressArgs, createSnapshot, readSnapshotMeta, readStateLayout } from '../store/snapshot.js';
import { storedTarget, targetArgs } from '../store/targets.js';
import { commitSnapshot } from './commit.js';
import { copyOverlay } from './copy-overlay.js';
import { readCurrent } from '../store/table.js';
import { discardSnapshot } from '../store/gc.js';
import { DeletionGuardError, InvalidInputError } from './errors.js';
import type { SourceSpec } from './publish-source.js';
import type { DeltaItem } from '../directory/items.js';
import { InvalidEntries, splitHeld, storedObjects, storeDeltaReport } from './invalid.js';
import { DiffCollector } from './dry-run.js';
import { guardedResult, Tally, type ObjectStatus } from './tally.js';
import type { PublishDeps, PublishOptions, PublishResult, RowError } from './types.js';

export type { DeltaItem } from '../directory/items.js';

/** The source has no published full snapshot yet: a delta has nothing to apply to. */
export class NoBaseSnapshotError extends Error {
  readonly code = 'SY_NO_BASE';
}

/** One change of a batch: an upsert with its stored form, or a delete. */
type Change =
  | { readonly op: 'U'; readonly ref: string; readonly json: string; readonly rank: string; readonly lowered: readonly string[] }
  | { readonly op: 'D'; readonly ref: string };

/**
 * One batch of changes, with a name per change and the invalid entries. With `bad` (LDAP
 * semantics), an invalid entry makes no change and is collected there; `touched` gets the
 * id of every entry read.
 */
function parseChanges(
  spec: SourceSpec,
  batch: readonly DeltaItem[],
  bad?: InvalidEntries,
  touched?: Set<string>,
): { changes: Change[]; names: string[]; errors: RowError[] } {
  const changes: Change[] = [];
  const names: string[] = [];
  const errors: RowError[] = [];
  for (const item of batch) {
    if ('error' in item) {
      errors.push(item.error);
      bad?.add('', item.error.origin, item.error.reason);
    } else if ('delete' in item) {
      changes.push({ op: 'D', ref: objectRef(item.delete.toLowerCase()) });
      names.push(item.origin);
      touched?.add(item.delete.toLowerCase());
    } else {
      touched?.add(item.upsert.id.toLowerCase());
      const built = buildObject(spec.name, item.upsert);
      if (built.ok === true) {
        const o = built.object;
        const rank = rankKey(o, spec.priority);
        const lowered = o.addresses.map((a) => a.toLowerCase());
        changes.push({ op: 'U', ref: objectRef(objectKey(o)), json: encodeObject(o, rank, lowered), rank, lowered });
      } else if (built.ok === 'skip') {
        changes.push({ op: 'D', ref: objectRef(objectKey(item.upsert)) }); // no longer mail-enabled: gone from the table
      } else {
        errors.push({ origin: item.upsert.origin ?? item.upsert.dn, reason: built.reason });
        bad?.add(item.upsert.id, item.upsert.dn, built.reason);
        continue;
      }
      names.push(item.upsert.dn);
    }
  }
  return { changes, names, errors };
}

/** The lower-cased addresses of a stored object, as apply-delta.lua reads them ("" = none). */
function storedAddresses(json: string | null | undefined): string[] {
  if (!json) return [];
  const o = JSON.parse(json) as { a: string[]; l?: string[] };
  return o.l ?? o.a.map((a) => a.toLowerCase());
}

/**
 * The apply-delta arguments of a batch. Each change carries the targets and the addresses
 * it touches (those its object had before and has now) with their hints; "before" is read here,
 * which is safe because only this run writes the overlay, one batch at a time.
 */
async function changeArgs(
  deps: PublishDeps,
  state: StateLayout & { overlay: SnapshotLayout },
  batchId: number,
  changes: readonly Change[],
): Promise<string[]> {
  const refs = [...new Set(changes.map((c) => c.ref))];
  const [over, base] = await Promise.all([
    hmgetSharded(deps.redis, deps.keys, state.overlay, 'obj', refs),
    hmgetSharded(deps.redis, deps.keys, state.base, 'obj', refs),
  ]);
  const before = new Map(refs.map((r, i) => [r, over[i] ?? base[i] ?? '']));
  const args: string[] = [String(batchId)];
  for (const c of changes) {
    const old = before.get(c.ref);
    const touched = new Set(storedAddresses(old));
    const target = c.op === 'U' ? storedTarget(c.json) : '';
    const targets = new Set([storedTarget(old), target]);
    if (c.op === 'U') {
      for (const a of c.lowered) touched.add(a);
      args.push('U', c.ref, c.json, c.rank);
      before.set(c.ref, c.json);
    } else {
      args.push('D', c.ref);
      before.set(c.ref, '');
    }
    targets.delete('');
    args.push(target, String(targets.size), ...[...targets].flatMap(targetArgs));
    args.push(String(touched.size), ...addressArgs([...touched]));
  }
  return args;
}

/**
 * Conflicts of the source after the delta (base conflicts, with the overlay's entries on
 * top), and how many of them the previous state did not have. Reads the overlay only.
 */
async function conflictCounts(
  deps: PublishDeps,
  ref: StateLayout,
  id: SnapshotLayout,
): Promise<{ conflicts: number; newConflicts: number; newConflicted: string[] }> {
  const { redis, keys } = deps;
  const entries = Object.entries(await hgetallSharded(redis, keys, id, 'conf'));
  let conflicts = await hlenSharded(redis, keys, ref.base, 'conf');
  if (entries.length === 0) return { conflicts, newConflicts: 0, newConflicted: [] };
  const addresses = entries.map(([a]) => a);
  const inBase = await hmgetSharded(redis, keys, ref.base, 'conf', addresses);
  const inPrev = ref.overlay ? await hmgetSharded(redis, keys, ref.overlay, 'conf', addresses) : addresses.map(() => null);
  const newConflicted: string[] = [];
  entries.forEach(([, now], i) => {
    const base = inBase[i] != null;
    if (now !== '' && !base) conflicts++;
    if (now === '' && base) conflicts--;
    const before = inPrev[i] ?? inBase[i] ?? '';
    if (now !== '' && before === '') newConflicted.push(addresses[i] as string);
  });
  return { conflicts, newConflicts: newConflicted.length, newConflicted };
}

/** Shards of a new overlay: enough for the overlay it copies (entries only grow), at least `minShards`. */
async function overlayShards(deps: PublishDeps, prev: SnapshotLayout | undefined, sizeHint: number | undefined): Promise<number> {
  const floor = deps.minShards ?? 1;
  if (!prev) return Math.max(floor, chooseShards(sizeHint ?? 0));
  const entries = await hlenSharded(deps.redis, deps.keys, prev, 'addr');
  return Math.max(floor, prev.shards, chooseShards(entries * 1.5));
}

/** A dry run's diff of one batch: each change's status with its old (`before`, by id) and new forms. */
function collectDiff(diff: DiffCollector, status: string, changes: readonly Change[], before: ReadonlyMap<string, string>): void {
  for (let i = 0; i < status.length; i++) {
    const c = changes[i] as Change;
    const old = before.get(refKey(c.ref));
    const s = status[i];
    if (s === 'A' && c.op === 'U') diff.add(decodeObject(c.json));
    else if (s === 'C' && c.op === 'U' && old !== undefined) diff.change(decodeObject(old), decodeObject(c.json));
    else if (s === 'R' && old !== undefined) diff.remove(decodeObject(old));
  }
}

export async function publishDelta(
  deps: PublishDeps,
  spec: SourceSpec,
  items: AsyncIterable<readonly DeltaItem[]> | Iterable<readonly DeltaItem[]>,
  opts: PublishOptions,
): Promise<PublishResult> {
  const started = performance.now();
  const { redis, keys } = deps;
  const current = await readCurrent(redis, keys);
  const raw = current?.snapshots.get(spec.name);
  if (current === undefined || raw === undefined) throw new NoBaseSnapshotError(`source ${spec.name}: no full sync published yet`);
  const ref = await readStateLayout(redis, keys, raw);
  const prev = await readSnapshotMeta(redis, keys, topId(raw));
  const id = await createSnapshot(redis, keys, spec.name, await overlayShards(deps, ref.overlay, opts.sizeHint), opts.origin);
  if (ref.overlay) await copyOverlay(deps, ref.overlay, id);
  const state = { base: ref.base, overlay: id };
  const scriptKeys = [
    keys.snapshotBatches(id.id),
    ...(['obj', 'addr', 'conf', 'tgt'] as const).flatMap((h) => shardKeys(keys, ref.base.id, h, ref.base.shards)),
    ...(['obj', 'addr', 'conf', 'tgt'] as const).flatMap((h) => shardKeys(keys, id.id, h, id.shards)),
  ];
  let batchId = 0;
  const tally = new Tally();
  const bad = opts.holdInvalid ? new InvalidEntries(spec.name) : undefined;
  const touched = new Set<string>();
  const diff = opts.dryRun ? new DiffCollector() : undefined;
  let published = false;
  try {
    for await (const batch of items) {
      const { changes, names, errors: invalid } = parseChanges(spec, batch, bad, touched);
      tally.read += batch.length;
      for (const e of invalid) tally.error(e);
      if (changes.length === 0) continue;
      // a dry run shows each change old → new: the old forms are read for it only
      const before = diff
        ? await storedObjects(
            deps,
            state,
            changes.map((c) => refKey(c.ref)),
          )
        : undefined;
      const [batchArg, ...changeArgv] = await changeArgs(deps, state, ++batchId, changes);
      const args = [batchArg ?? '', ref.base.shards, id.shards, ...changeArgv];
      const [status, added, removed, conflicted] = (await runScript(redis, scripts.applyDelta, scriptKeys, args)) as [
        string,
        number,
        number,
        string[],
      ];
      for (let i = 0; i < status.length; i++) tally.record(status[i] as ObjectStatus, names[i] ?? '');
      if (diff && before) collectDiff(diff, status, changes, before);
      tally.addressesAdded += added;
      tally.addressesRemoved += removed;
      tally.conflicted(conflicted);
      tally.written += changes.length;
      opts.onProgress?.({ read: tally.read, written: tally.written });
    }
    await redis.unlink(keys.snapshotBatches(id.id)); // every batch has its reply: no resend can come now
    if (tally.invalid > 0 && !opts.skipInvalid && !bad) throw new InvalidInputError(tally.errors, tally.invalid);
    if (bad) await splitHeld(deps, state, bad); // the held keep their published form: the delta did not touch them
    const previous = prev?.objects ?? (await hlenSharded(redis, keys, ref.base, 'obj'));
    const objects = previous + tally.added - tally.removed;
    const addresses = (prev?.addresses ?? 0) + tally.addressesAdded - tally.addressesRemoved;
    const { conflicts, newConflicts, newConflicted } = await conflictCounts(deps, ref, id);
    const counts = tally.counts({ objects, addresses, conflicts, newConflicts });
    const result = guardedResult(spec, opts, tally, counts, { objects: previous, addresses: prev?.addresses ?? 0 }, bad?.report());
    const refusal = result.refusal;
    if (diff) {
      diff.newConflicts = newConflicted;
      return { ...result, diff: diff.result(), durationMs: performance.now() - started };
    }
    if (refusal !== undefined) throw new DeletionGuardError(refusal);
    if (bad) await storeDeltaReport(deps, bad, touched);
    if (tally.added + tally.changed + tally.removed === 0)
      return { ...result, version: current.version, unchanged: true, durationMs: performance.now() - started };

    const meta = {
      source: spec.name,
      kind: 'overlay' as const,
      base: ref.base.id,
      shards: id.shards,
      createdAt: new Date().toISOString(),
      objects,
      addresses,
      conflicts,
      ...(opts.origin ? { origin: opts.origin } : {}),
    };
    const version = await commitSnapshot(deps, {
      source: spec.name,
      id: id.id,
      ref: formatRef({ base: ref.base.id, overlay: id.id }),
      expected: raw,
      cause: opts.cause,
      meta,
    });
    published = true;
    return { ...result, version, durationMs: performance.now() - started };
  } finally {
    if (!published) await discardSnapshot(redis, keys, id.id).catch(() => undefined);
  }
}
