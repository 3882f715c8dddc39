/**
 * Staging every entry a source read into a new snapshot: build each recipient object, send
 * the objects in batches (at most `inFlight` unanswered, src/pipeline/stage-pace.ts), and
 * count what each batch did. Objects whose fields are all new in the snapshot are written
 * with plain `HSET`s and only the others go through stage.lua (src/store/fresh-stage.ts,
 * whose order rules this keeps); stage.lua diffs those against the state the snapshot
 * replaces, and classifies the plain ones against it without writing. A staging that
 * replaces a published state while relays answer lookups from it sends every object through
 * stage.lua instead, from its start or from when relays start answering. While relays
 * answer lookups from a published table version, the batches are paced so that they hold
 * Redis for at most the pace's duty cycle (src/pipeline/staging-pace.ts, duty-cycle.ts).
 */
import { buildObject, type RecipientObject } from '../routing/object.js';
import { FreshStage } from '../store/fresh-stage.js';
import type { SnapshotLayout, StateLayout } from '../store/sharded.js';
import { stageArgs, stageBatch, type BatchResult } from '../store/snapshot.js';
import { lookupsSeen } from '../store/lookup-beacon.js';
import type { InvalidEntries } from './invalid.js';
import { freshBatch, STAGE_PACE, Window } from './stage-pace.js';
import { StagingPace } from './staging-pace.js';
import type { Tally } from './tally.js';
import type { PacedStaging, PublishDeps, PublishOptions, ReadItem } from './types.js';

export interface StageSpec {
  readonly name: string;
  readonly priority: number;
  /** A table version with a source in it is published: stage at the pace's duty cycle while relays answer lookups from it. */
  readonly paced?: boolean;
}

/** What a dry run reports: the objects staged as added and as changed. */
export interface StagedObjects {
  readonly added: RecipientObject[];
  readonly changed: RecipientObject[];
}

/** What `stageAll` did: the stage.lua batches sent (their ids), and how it was paced. */
export interface Staged {
  readonly batches: number;
  /** Set when batches were paced (relays answered lookups from a published table): see PacedStaging. */
  readonly paced?: PacedStaging;
}

/** Stages every entry of `items` into snapshot `id`. */
export async function stageAll(
  deps: PublishDeps,
  spec: StageSpec,
  id: SnapshotLayout,
  old: StateLayout | undefined,
  items: AsyncIterable<readonly ReadItem[]>,
  tally: Tally,
  opts: PublishOptions,
  bad: InvalidEntries | undefined,
  staged?: StagedObjects,
): Promise<Staged> {
  const pace = deps.stage ?? STAGE_PACE;
  // paced while relays answer lookups (staging-pace.ts): one batch at a time, Redis left to the
  // lookups between batches; unpaced, `inFlight` at a time. Either way the order rules below hold
  const relaysAnswer = (): Promise<boolean> => lookupsSeen(deps.redis, deps.keys);
  // a first answer that fails leaves the staging paced: a table is published, relays may be reading it
  const answering = spec.paced && pace.duty < 1 ? await relaysAnswer().catch(() => true) : undefined;
  const inFlight = answering !== undefined ? new StagingPace(pace, answering, relaysAnswer) : new Window(pace.inFlight);
  // plain writes, except for a staging that replaces a published state while relays answer
  // lookups from it: that one keeps stage.lua, whose own Redis time each batch is charged
  // (B4), where a pipeline of plain writes and classifying scripts can only be charged its
  // round trip. Relays that start answering meanwhile retire the plain writes for good (as
  // the fingerprints' bound does): the objects after it go through stage.lua
  const fresh =
    old === undefined || answering !== true
      ? new FreshStage(deps.redis, deps.keys, id, { expectedAddresses: opts.sizeHint, old })
      : undefined;
  const retires = old !== undefined && inFlight instanceof StagingPace ? inFlight : undefined;
  let plain = fresh !== undefined;
  const freshPer = freshBatch(id.shards);
  let failure: Error | undefined;
  const fail = (err: unknown): void => {
    failure ??= err instanceof Error ? err : new Error(String(err));
  };
  const progress = (): void => opts.onProgress?.({ read: tally.read, written: tally.written });
  // objects for stage.lua, with where each was read
  let batch: RecipientObject[] = [];
  let origins: string[] = [];
  let batchId = 0;
  // a dry run's objects by the order they were read in (plain and scripted ones are answered out of order)
  const readOrder = new WeakMap<RecipientObject, number>();

  const counted = (objects: readonly RecipientObject[], where: readonly string[], r: BatchResult): void => {
    for (let i = 0; i < r.status.length; i++) {
      const o = objects[i] as RecipientObject;
      const status = r.status[i];
      if (status === 'A' || status === 'C' || status === 'U') {
        tally.record(status, o.dn);
        if (status === 'A') staged?.added.push(o);
        if (status === 'C') staged?.changed.push(o);
      } else {
        const reason = `duplicate object identity "${o.id}" (an earlier entry has it)`;
        tally.error({ origin: where[i] ?? o.dn, reason });
        bad?.add(o.id, o.dn, reason, false);
      }
    }
    tally.addressesAdded += r.addressesNew;
    tally.addressesKept += r.addressesKept;
    tally.conflicted(r.conflicted);
    tally.written += objects.length;
    progress();
  };

  // objects written without a script: with no old state, counted as added when added (a
  // failed write fails the whole staging), written once their batch is answered; with one,
  // counted as their classification answers (stage.lua's statuses, in the order added)
  const plainUnanswered = new Set<Promise<void>>();
  const flushPlain = (stage: FreshStage): Promise<void> => {
    const taken = stage.take();
    return inFlight.run(() => {
      const answered = taken
        .send()
        .then((classified) => {
          if (classified !== undefined) return counted(taken.list, [], classified);
          tally.written += taken.objects;
          progress();
        })
        .catch(fail)
        .finally(() => plainUnanswered.delete(answered));
      plainUnanswered.add(answered);
      return answered;
    });
  };

  const flushScripted = async (): Promise<void> => {
    const objects = batch;
    const where = origins;
    batch = [];
    origins = [];
    if (fresh !== undefined) {
      // every plain write before this batch answered first (fresh-stage.ts: order); scripts
      // already in flight need no wait, Redis runs them in the order sent
      if (fresh.pending > 0) await flushPlain(fresh);
      await Promise.all(plainUnanswered);
      if (failure !== undefined) return; // a failed plain batch: nothing more is sent
    }
    return inFlight.run(() =>
      stageBatch(deps.redis, deps.keys, id, old, stageArgs(++batchId, objects, spec.priority))
        .then((r) => {
          counted(objects, where, r);
          return r.redisMs; // the pace charges Redis's own time (duty-cycle.ts)
        })
        .catch(fail),
    );
  };

  for await (const chunk of items) {
    if (failure !== undefined) break;
    for (const item of chunk) {
      if (failure !== undefined) break; // nothing more is sent (nor paced for) after a failed batch
      tally.read++;
      if ('error' in item) {
        tally.error(item.error);
        bad?.add('', item.error.origin, item.error.reason);
        continue;
      }
      const built = buildObject(spec.name, item.entry);
      if (built.ok === true) {
        if (staged) readOrder.set(built.object, tally.read);
        if (plain && retires?.pacing === true) plain = false;
        if (plain && fresh?.add(built.object, spec.priority)) {
          if (old === undefined) {
            tally.record('A', built.object.dn);
            tally.addressesAdded += built.object.addresses.length;
            staged?.added.push(built.object);
          }
          if (fresh.pending >= freshPer) await flushPlain(fresh);
          continue;
        }
        batch.push(built.object);
        origins.push(item.entry.origin ?? item.entry.dn);
        if (batch.length >= pace.batch) await flushScripted();
      } else if (built.ok === 'skip') {
        tally.skipped++;
        if (bad) bad.notMailEnabled++;
      } else {
        tally.error({ origin: item.entry.origin ?? item.entry.dn, reason: built.reason });
        bad?.add(item.entry.id, item.entry.dn, built.reason);
      }
    }
  }
  if (failure === undefined && fresh !== undefined && fresh.pending > 0) await flushPlain(fresh);
  if (failure === undefined && batch.length > 0) await flushScripted();
  await inFlight.drain();
  if (failure !== undefined) throw failure;
  // a dry run lists the objects in the order read, as when every object went through a script
  if (staged) {
    const inOrder = (a: RecipientObject, b: RecipientObject): number => (readOrder.get(a) ?? 0) - (readOrder.get(b) ?? 0);
    staged.added.sort(inOrder);
    staged.changed.sort(inOrder);
  }
  const paced =
    inFlight instanceof StagingPace && inFlight.pacedBatches > 0
      ? {
          duty: inFlight.duty,
          pausedMs: Math.round(inFlight.slept),
          batches: inFlight.pacedBatches,
          redisMs: Math.round(inFlight.charged * 10) / 10,
        }
      : undefined;
  return { batches: batchId, ...(paced ? { paced } : {}) };
}
