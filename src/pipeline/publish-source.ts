/**
 * The one publish path for every source (Csvde import, LDAP full sync): read entries,
 * build recipient objects, stage them as a new snapshot of the source (conflicts
 * resolved, diffed against the published snapshot), apply the deletion guard, and
 * publish a new table version atomically — or, on a dry run or any refusal, delete the
 * staging snapshot so the table is unchanged.
 */
import type { RecipientObject } from '../routing/object.js';
import { createSnapshot, readSnapshotMeta, readStateLayout, stageArgs, stageBatch } from '../store/snapshot.js';
import { hgetallSharded, hlenSharded, hmgetSharded, type SnapshotLayout, type StateLayout } from '../store/sharded.js';
import { chooseShards } from '../store/shards.js';
import { commitSnapshot } from './commit.js';
import { topId } from '../store/ref.js';
import { readCurrent } from '../store/table.js';
import { discardSnapshot } from '../store/gc.js';
import { DeletionGuardError, InvalidInputError, StagingLostError } from './errors.js';
import { InvalidEntries, splitHeld, storeFullReport } from './invalid.js';
import { dryRunDiff, removedObjects } from './full-diff.js';
import { guardedResult, SAMPLE_SIZE as SAMPLES, Tally } from './tally.js';
import { STAGE_PACE } from './stage-pace.js';
import { stageAll } from './stage-all.js';
import type { PublishDeps, PublishOptions, PublishResult, ReadItem } from './types.js';

export interface SourceSpec {
  readonly name: string;
  readonly priority: number;
  readonly deletionThreshold: number;
}

/** Stages again, as they are published, the objects of entries that turned invalid (held). */
async function stageHeld(
  deps: PublishDeps,
  spec: SourceSpec,
  id: SnapshotLayout,
  old: StateLayout | undefined,
  tally: Tally,
  bad: InvalidEntries,
  batchId: number,
): Promise<void> {
  const held = await splitHeld(deps, old, bad);
  const { batch } = deps.stage ?? STAGE_PACE;
  for (let from = 0; from < held.length; from += batch) {
    const objects = held.slice(from, from + batch);
    const r = await stageBatch(deps.redis, deps.keys, id, old, stageArgs(++batchId, objects, spec.priority));
    for (let i = 0; i < r.status.length; i++) {
      const status = r.status[i];
      if (status === 'A' || status === 'C' || status === 'U') tally.record(status, (objects[i] as RecipientObject).dn);
    }
    tally.addressesAdded += r.addressesNew;
    tally.addressesKept += r.addressesKept;
    tally.conflicted(r.conflicted);
  }
}

/** Objects and addresses of a published state, from its snapshot meta (counted for old metas). */
async function stateCounts(deps: PublishDeps, raw: string, old: StateLayout): Promise<{ objects: number; addresses: number }> {
  const meta = await readSnapshotMeta(deps.redis, deps.keys, topId(raw));
  if (meta?.objects !== undefined && meta.addresses !== undefined) return { objects: meta.objects, addresses: meta.addresses };
  const [objects, addresses] = await Promise.all([
    hlenSharded(deps.redis, deps.keys, old.base, 'obj'),
    hlenSharded(deps.redis, deps.keys, old.base, 'addr'),
  ]);
  return { objects, addresses };
}

/** Default shards of a source's first snapshot when nothing hints at its size (~1.6 M addresses). */
const FIRST_SHARDS = 16;

/** Shards for a new full snapshot: sized for the larger of the previous state and the hint. */
export function shardsFor(previousAddresses: number | undefined, sizeHint: number | undefined, minShards = 1): number {
  if (previousAddresses === undefined && sizeHint === undefined) return Math.max(minShards, FIRST_SHARDS);
  return Math.max(minShards, chooseShards(Math.max(previousAddresses ?? 0, sizeHint ?? 0)));
}

function isUnchanged(c: PublishResult['counts']): boolean {
  return c.added === 0 && c.changed === 0 && c.removed === 0 && c.addressesAdded === 0 && c.addressesRemoved === 0 && c.newConflicts === 0;
}

export async function publishSource(
  deps: PublishDeps,
  spec: SourceSpec,
  items: AsyncIterable<readonly ReadItem[]>,
  opts: PublishOptions,
): Promise<PublishResult> {
  const started = performance.now();
  const { redis, keys } = deps;
  const current = await readCurrent(redis, keys);
  const oldRaw = current?.snapshots.get(spec.name);
  const old = oldRaw === undefined ? undefined : await readStateLayout(redis, keys, oldRaw);
  const oldCounts = oldRaw === undefined || old === undefined ? undefined : await stateCounts(deps, oldRaw, old);
  const id = await createSnapshot(redis, keys, spec.name, shardsFor(oldCounts?.addresses, opts.sizeHint, deps.minShards), opts.origin);
  const tally = new Tally();
  let published = false;
  try {
    const bad = opts.holdInvalid ? new InvalidEntries(spec.name) : undefined;
    const staged = opts.dryRun ? { added: [] as RecipientObject[], changed: [] as RecipientObject[] } : undefined;
    // relays may answer RCPTs from a published table with a source in it: the staging is paced while they do (staging-pace.ts)
    const paced = (current?.snapshots.size ?? 0) > 0;
    const staging = await stageAll(deps, { ...spec, paced }, id, old, items, tally, opts, bad, staged);
    if (bad) await stageHeld(deps, spec, id, old, tally, bad, staging.batches);
    await redis.unlink(keys.snapshotBatches(id.id)); // every batch has its reply: no resend can come now
    if (tally.invalid > 0 && !opts.skipInvalid && !opts.holdInvalid) throw new InvalidInputError(tally.errors, tally.invalid);

    const [objects, addresses, conflicts] = await Promise.all([
      hlenSharded(redis, keys, id, 'obj'),
      hlenSharded(redis, keys, id, 'addr'),
      hlenSharded(redis, keys, id, 'conf'),
    ]);
    // every object and address a batch reported staged is in the snapshot, unless Redis lost
    // writes (a restart without them): never publish that (plain writes too)
    const stagedObjects = tally.added + tally.changed + tally.unchanged;
    const stagedAddresses = tally.addressesAdded + tally.addressesKept;
    if (objects !== stagedObjects || addresses !== stagedAddresses) {
      throw new StagingLostError(
        `refused: the staged snapshot of source "${spec.name}" holds ${objects} objects and ${addresses} addresses where ${stagedObjects} and ${stagedAddresses} were staged (Redis lost writes while staging, e.g. a restart); nothing was published, run it again`,
      );
    }
    const { objects: oldObjects, addresses: oldAddresses } = oldCounts ?? { objects: 0, addresses: 0 };
    const removed = oldObjects - tally.changed - tally.unchanged;
    tally.removed = removed;
    tally.addressesRemoved = oldAddresses - tally.addressesKept;
    if (removed > 0 && old !== undefined) tally.samples.removed.push(...(await removedObjects(deps, id, old, SAMPLES)).map((o) => o.dn));

    let newConflictList: string[] | undefined;
    if (conflicts > 0 && (old !== undefined || opts.dryRun)) {
      const conflicted = Object.keys(await hgetallSharded(redis, keys, id, 'conf'));
      const before = old ? await hmgetSharded(redis, keys, old.base, 'conf', conflicted) : conflicted.map(() => null);
      const over = old?.overlay ? await hmgetSharded(redis, keys, old.overlay, 'conf', conflicted) : [];
      newConflictList = conflicted.filter((_, i) => (over[i] != null ? over[i] === '' : before[i] === null));
    }
    const newConflicts = newConflictList?.length ?? conflicts;
    const counts = tally.counts({ objects, addresses, conflicts, newConflicts });
    const result = {
      ...guardedResult(spec, opts, tally, counts, { objects: oldObjects, addresses: oldAddresses }, bad?.report()),
      ...(staging.paced ? { paced: staging.paced } : {}),
    };
    const refusal = result.refusal;
    if (staged) {
      const diff = await dryRunDiff(deps, id, old, staged, removed, newConflictList ?? []);
      return { ...result, diff, durationMs: performance.now() - started };
    }
    if (refusal !== undefined) throw new DeletionGuardError(refusal);
    if (bad) await storeFullReport(deps, bad);
    // Nothing changed: keep the published version (and the rollback history) as it is.
    if (old !== undefined && current !== undefined && isUnchanged(counts)) {
      return { ...result, version: current.version, unchanged: true, durationMs: performance.now() - started };
    }

    const meta = {
      source: spec.name,
      kind: 'full' as const,
      createdAt: new Date().toISOString(),
      objects,
      addresses,
      conflicts,
      shards: id.shards,
      ...(opts.origin ? { origin: opts.origin } : {}),
    };
    const version = await commitSnapshot(deps, { source: spec.name, id: id.id, ref: id.id, expected: oldRaw, cause: opts.cause, meta });
    published = true;
    return { ...result, version, durationMs: performance.now() - started };
  } finally {
    if (!published) await discardSnapshot(redis, keys, id.id).catch(() => undefined);
  }
}
