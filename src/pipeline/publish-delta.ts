/**
 * Applies a delta (changed and deleted objects of one source) to the published table:
 * the changes go into a new overlay on top of the source's full snapshot (a copy of the
 * previous overlay plus this delta), which is then published in the same atomic step as
 * a full snapshot. Cost is proportional to the changes, not to the directory.
 */
import { deletionGuard } from '../routing/guard.js';
import { buildObject, objectKey } from '../routing/object.js';
import { formatRef, parseRef, topId, type SnapshotRef } from '../store/ref.js';
import { runScript, scripts } from '../store/scripts.js';
import { createSnapshot, objectArgs, readSnapshotMeta } from '../store/snapshot.js';
import { commitSnapshot } from './commit.js';
import { readCurrent } from '../store/table.js';
import { discardSnapshot } from '../store/gc.js';
import { DeletionGuardError, InvalidInputError } from './errors.js';
import type { SourceSpec } from './publish-source.js';
import type { DeltaItem } from '../directory/items.js';
import type { PublishDeps, PublishOptions, PublishResult, RowError } from './types.js';

export type { DeltaItem } from '../directory/items.js';

/** The source has no published full snapshot yet: a delta has nothing to apply to. */
export class NoBaseSnapshotError extends Error {
  readonly code = 'SY_NO_BASE';
}

const SAMPLES = 10;

/** One batch of changes as apply-delta arguments, with a name per change and the invalid entries. */
function encodeChanges(
  spec: SourceSpec,
  batchId: number,
  batch: readonly DeltaItem[],
): { args: string[]; names: string[]; errors: RowError[] } {
  const args: string[] = [String(batchId)];
  const names: string[] = [];
  const errors: RowError[] = [];
  for (const item of batch) {
    if ('error' in item) {
      errors.push(item.error);
    } else if ('delete' in item) {
      args.push('D', item.delete.toLowerCase());
      names.push(item.origin);
    } else {
      const built = buildObject(spec.name, item.upsert);
      if (built.ok === true) {
        args.push('U', ...objectArgs(built.object, spec.priority));
      } else if (built.ok === 'skip') {
        args.push('D', objectKey(item.upsert)); // no longer mail-enabled: gone from the table
      } else {
        errors.push({ origin: item.upsert.origin ?? item.upsert.dn, reason: built.reason });
        continue;
      }
      names.push(item.upsert.dn);
    }
  }
  return { args, names, errors };
}

/**
 * Conflicts of the source after the delta (base conflicts, with the overlay's entries on
 * top), and how many of them the previous state did not have. Reads the overlay only.
 */
async function conflictCounts(deps: PublishDeps, ref: SnapshotRef, id: string): Promise<{ conflicts: number; newConflicts: number }> {
  const { redis, keys } = deps;
  const entries = Object.entries(await redis.hgetall(keys.snapshotConflicts(id)));
  let conflicts = await redis.hlen(keys.snapshotConflicts(ref.base));
  if (entries.length === 0) return { conflicts, newConflicts: 0 };
  const addresses = entries.map(([a]) => a);
  const inBase = await redis.hmget(keys.snapshotConflicts(ref.base), ...addresses);
  const inPrev = ref.overlay ? await redis.hmget(keys.snapshotConflicts(ref.overlay), ...addresses) : addresses.map(() => null);
  let newConflicts = 0;
  entries.forEach(([, now], i) => {
    const base = inBase[i] != null;
    if (now !== '' && !base) conflicts++;
    if (now === '' && base) conflicts--;
    const before = inPrev[i] ?? inBase[i] ?? '';
    if (now !== '' && before === '') newConflicts++;
  });
  return { conflicts, newConflicts };
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
  const ref = parseRef(raw);
  const prev = await readSnapshotMeta(redis, keys, topId(raw));
  const id = await createSnapshot(redis, keys, spec.name, opts.origin);
  if (ref.overlay) {
    const m = redis.multi();
    m.copy(keys.snapshotObjects(ref.overlay), keys.snapshotObjects(id));
    m.copy(keys.snapshotAddresses(ref.overlay), keys.snapshotAddresses(id));
    m.copy(keys.snapshotConflicts(ref.overlay), keys.snapshotConflicts(id));
    await m.exec();
  }
  const scriptKeys = [
    keys.snapshotObjects(ref.base),
    keys.snapshotAddresses(ref.base),
    keys.snapshotConflicts(ref.base),
    keys.snapshotObjects(id),
    keys.snapshotAddresses(id),
    keys.snapshotConflicts(id),
    keys.snapshotBatches(id),
  ];
  let batchId = 0;
  const tally = { A: 0, C: 0, U: 0, R: 0, N: 0, addressesAdded: 0, addressesRemoved: 0, invalid: 0, read: 0 };
  const errors: RowError[] = [];
  const samples = { added: [] as string[], changed: [] as string[], removed: [] as string[], conflicts: [] as string[] };
  let published = false;
  try {
    for await (const batch of items) {
      const { args, names, errors: bad } = encodeChanges(spec, ++batchId, batch);
      tally.read += batch.length;
      tally.invalid += bad.length;
      errors.push(...bad);
      if (args.length === 1) continue;
      const [status, added, removed, conflicted] = (await runScript(redis, scripts.applyDelta, scriptKeys, args)) as [
        string,
        number,
        number,
        string[],
      ];
      for (let i = 0; i < status.length; i++) {
        const s = status[i] as 'A' | 'C' | 'U' | 'R' | 'N';
        tally[s]++;
        const list = s === 'A' ? samples.added : s === 'C' ? samples.changed : s === 'R' ? samples.removed : undefined;
        if (list && list.length < SAMPLES) list.push(names[i] ?? '');
      }
      tally.addressesAdded += added;
      tally.addressesRemoved += removed;
      for (const a of conflicted) if (samples.conflicts.length < SAMPLES && !samples.conflicts.includes(a)) samples.conflicts.push(a);
      opts.onProgress?.({ read: tally.read, written: tally.read });
    }
    await redis.unlink(keys.snapshotBatches(id)); // every batch has its reply: no resend can come now
    if (tally.invalid > 0 && !opts.skipInvalid) throw new InvalidInputError(errors, tally.invalid);
    const previous = prev?.objects ?? (await redis.hlen(keys.snapshotObjects(ref.base)));
    const objects = previous + tally.A - tally.R;
    const addresses = (prev?.addresses ?? 0) + tally.addressesAdded - tally.addressesRemoved;
    const { conflicts, newConflicts } = await conflictCounts(deps, ref, id);
    const counts = {
      objects,
      addresses,
      added: tally.A,
      changed: tally.C,
      unchanged: tally.U,
      removed: tally.R,
      addressesAdded: tally.addressesAdded,
      addressesRemoved: tally.addressesRemoved,
      conflicts,
      newConflicts,
      invalid: tally.invalid,
      skipped: tally.N,
    };
    const refusal = opts.allowMassDelete
      ? undefined
      : deletionGuard({ source: spec.name, previous, removed: tally.R, threshold: spec.deletionThreshold });
    const result = {
      source: spec.name,
      dryRun: opts.dryRun === true,
      counts,
      samples,
      errors: errors.slice(0, 1000),
      ...(refusal ? { refusal } : {}),
      durationMs: 0,
    };
    if (opts.dryRun) return { ...result, durationMs: performance.now() - started };
    if (refusal !== undefined) throw new DeletionGuardError(refusal);
    if (tally.A + tally.C + tally.R === 0)
      return { ...result, version: current.version, unchanged: true, durationMs: performance.now() - started };

    const meta = {
      source: spec.name,
      kind: 'overlay' as const,
      base: ref.base,
      createdAt: new Date().toISOString(),
      objects,
      addresses,
      conflicts,
      ...(opts.origin ? { origin: opts.origin } : {}),
    };
    const version = await commitSnapshot(deps, {
      source: spec.name,
      id,
      ref: formatRef({ base: ref.base, overlay: id }),
      expected: raw,
      cause: opts.cause,
      meta,
    });
    published = true;
    return { ...result, version, durationMs: performance.now() - started };
  } finally {
    if (!published) await discardSnapshot(redis, keys, id).catch(() => undefined);
  }
}
