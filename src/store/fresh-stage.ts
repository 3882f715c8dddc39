/**
 * Staging without a script's writes (B1 and B2, issue 15). stage.lua pays for what a staging
 * mostly does not need: an `HSETNX` per field to find the rare field claimed twice, and the
 * Lua arguments of every object — ~14–21 µs of Redis time per object, the critical path of a
 * million-row import. Here the client remembers the fingerprint of every field it has
 * claimed (src/store/fingerprints.ts), and an object whose fields are all new is written
 * with plain multi-field `HSET`s, grouped by shard, one pipeline per batch (~9–12 µs per
 * object). An object with a field that may have been claimed before (a duplicate identity,
 * an address or a shared target — or a fingerprint collision) goes through stage.lua as
 * every object did before, which resolves it by rank against what is written (the same
 * hashes, the same values), so the snapshot is the one stage.lua alone would build.
 *
 * A snapshot that replaces a published state (a full sync, a re-import) is written the same
 * way when src/pipeline/stage-all.ts says so. What stage.lua would have answered for the
 * plain objects (added, changed or unchanged against the old state, each address new or kept)
 * then comes from stage.lua run to classify only (`classifyBatch`: it writes nothing), in
 * scripts of CLASSIFY_BATCH objects sent with the batch's writes. An unchanged 100,000-row
 * re-import held Redis ~17 µs per object in stage.lua; plain writes and a classification take
 * 11–15 µs (`HSET` 5–7, the classifying script 6–9), and the re-import took 0.78× the time
 * (session 34).
 *
 * Order, which the caller keeps (src/pipeline/stage-all.ts): a script that writes runs only
 * once every plain write before it has been answered, so a plain write resent after a
 * reconnection never undoes a script's decision; and every field of a scripted object is
 * claimed too, so no later plain write touches a field a script decides. The classifying
 * scripts write nothing and go with their batch's writes.
 */
import { Pipeline } from 'ioredis';
import { objectKey, rankKey, type RecipientObject } from '../routing/object.js';
import { encodeObject } from './codec.js';
import { packedCommand, respCommand } from './encoded-command.js';
import { execResent } from './resent-pipeline.js';
import { fingerprint, FingerprintSet, MAX_FINGERPRINTS } from './fingerprints.js';
import { shardKeys, type Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import type { SnapshotLayout, StateLayout } from './sharded.js';
import { hashedRef, hashHint } from './shards.js';
import { classifyBatch, type BatchResult } from './snapshot.js';

// One seed per kind of field: an address, a target and an object key may be the same text.
const SEED_KEY = 0x2545f491;
const SEED_ADDRESS = 0x1b873593;
const SEED_TARGET = 0x7f4a7c15;

/** One batch's `HSET` arguments: per hash, per shard, the key then field/value pairs. */
type Groups = (string[] | undefined)[];

/**
 * Objects per classifying script (stage.lua at N = 0). An unchanged object costs one `HGET` of
 * its old form and a comparison: 330–430 µs of Redis time per script of 50 in an unchanged
 * 100,000-row re-import (session 34), about what a staging script of 10 objects takes, while
 * the objects' writes go without a script.
 */
export const CLASSIFY_BATCH = 50;

export interface FreshStageOptions {
  /** Addresses expected (sizes the fingerprint set). */
  readonly expectedAddresses?: number;
  /** Fields fingerprinted at most (the fingerprint set's bound). */
  readonly maxFields?: number;
  /** The published state the snapshot replaces: each batch's objects are classified against it. */
  readonly old?: StateLayout;
}

/** A batch taken: its objects (in the order added), and `send`, which writes it and answers their classification (when there is an old state). */
export interface TakenBatch {
  readonly objects: number;
  readonly list: readonly RecipientObject[];
  readonly send: () => Promise<BatchResult | undefined>;
}

export class FreshStage {
  private readonly claimed: FingerprintSet;
  private readonly names: { readonly obj: string[]; readonly addr: string[]; readonly tgt: string[] };
  private readonly mask: number;
  private obj: Groups = [];
  private addr: Groups = [];
  private tgt: Groups = [];
  private count = 0;
  private exhausted = false;
  /** Scratch: a field's fingerprint, and the FNV-1a hashes of an object's addresses. */
  private readonly fp = new Int32Array(2);
  private readonly hashes: number[] = [];
  private readonly maxFields: number;
  private readonly old: StateLayout | undefined;
  /** With an old state: the batch's objects, and their classifying scripts' arguments. */
  private list: RecipientObject[] = [];
  private classify: string[][] = [];

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly snap: SnapshotLayout,
    opts: FreshStageOptions = {},
  ) {
    this.maxFields = opts.maxFields ?? MAX_FINGERPRINTS;
    this.old = opts.old;
    // an object has ~3 addresses, an identity and maybe a target: 1.5 fields per address
    this.claimed = new FingerprintSet(Math.ceil(1.5 * (opts.expectedAddresses ?? 0)));
    this.names = {
      obj: shardKeys(keys, snap.id, 'obj', snap.shards),
      addr: shardKeys(keys, snap.id, 'addr', snap.shards),
      tgt: shardKeys(keys, snap.id, 'tgt', snap.shards),
    };
    this.mask = snap.shards - 1;
  }

  /** Objects in the batch being built. */
  get pending(): number {
    return this.count;
  }

  /**
   * Claims every field of `o` (its identity, target and addresses). When none was claimed
   * before (certain), adds `o` to the batch and answers true; otherwise adds nothing and
   * answers false: stage.lua must stage it.
   */
  add(o: RecipientObject, priority: number): boolean {
    // past the fingerprints' bound (~2.8 million objects) no field is fingerprinted any more,
    // so no field can be known new: every later object goes through stage.lua, for good
    if (this.exhausted || this.claimed.size + o.addresses.length + 2 > this.maxFields) {
      this.exhausted = true;
      return false;
    }
    const fp = this.fp;
    const key = objectKey(o);
    fingerprint(key, SEED_KEY, fp);
    const refHash = fp[0] as number;
    let fresh = this.claimed.add(refHash, fp[1] as number);
    const target = o.target?.toLowerCase() ?? '';
    let targetHash = 0;
    if (target !== '') {
      fingerprint(target, SEED_TARGET, fp);
      targetHash = fp[0] as number;
      fresh = this.claimed.add(targetHash, fp[1] as number) && fresh;
    }
    const lowered = o.addresses.map((a) => a.toLowerCase());
    const hashes = this.hashes;
    hashes.length = 0;
    for (const address of lowered) {
      fingerprint(address, SEED_ADDRESS, fp);
      hashes.push(fp[0] as number);
      fresh = this.claimed.add(fp[0] as number, fp[1] as number) && fresh;
    }
    if (!fresh) return false;
    const ref = hashedRef(key, refHash);
    const json = encodeObject(o, rankKey(o, priority), lowered);
    this.field(this.obj, this.names.obj, refHash, ref, json);
    if (target !== '') this.field(this.tgt, this.names.tgt, targetHash, target, ref);
    for (let i = 0; i < lowered.length; i++) this.field(this.addr, this.names.addr, hashes[i] as number, lowered[i] as string, ref);
    if (this.old !== undefined) this.toClassify(o, ref, json, lowered);
    this.count++;
    return true;
  }

  /** stage.lua's arguments for `o` (ref, JSON, c, then its (hint, address) pairs; no target, which classifying leaves alone). */
  private toClassify(o: RecipientObject, ref: string, json: string, lowered: readonly string[]): void {
    this.list.push(o);
    let args = this.classify[this.classify.length - 1];
    if (args === undefined || (this.list.length - 1) % CLASSIFY_BATCH === 0) this.classify.push((args = []));
    args.push(ref, json, String(2 * lowered.length));
    for (let i = 0; i < lowered.length; i++) args.push(String(hashHint(this.hashes[i] as number)), lowered[i] as string);
  }

  private field(groups: Groups, names: readonly string[], hash: number, f: string, v: string): void {
    const shard = hash & this.mask;
    const group = groups[shard];
    if (group === undefined) groups[shard] = [names[shard] as string, f, v];
    else group.push(f, v);
  }

  /**
   * Takes the batch built so far (a new one starts): `send` writes it, one `HSET` per touched
   * shard of each hash, in one pipeline, and with an old state answers what stage.lua answers
   * for its objects (their statuses in the order added; no conflicts).
   */
  take(): TakenBatch {
    // encoded now: the writes that wait for a slot and for Redis's answer are off the JS heap
    // (with an old state, the batch's objects and classifying arguments are not). The obj
    // hash last: Redis loses writes as a suffix of what it ran (an AOF cut, a replica behind),
    // so a loss that reaches a batch's targets or addresses takes objects too, which the
    // count before publishing sees (it counts objects and addresses, not targets)
    const commands: [key: string, resp: Buffer, count: number][] = [];
    for (const groups of [this.tgt, this.addr, this.obj]) {
      for (const args of groups)
        if (args !== undefined) commands.push([args[0] as string, respCommand('hset', args[0] as string, args, 1), args.length - 1]);
    }
    const objects = this.count;
    const { list, classify, old } = this;
    this.obj = [];
    this.addr = [];
    this.tgt = [];
    this.count = 0;
    this.list = [];
    this.classify = [];
    // idempotent (the same fields, the same values): sent again whole when a connection
    // closed under it half answered; what Redis lost of the answered part is caught before
    // publishing (SY_STAGING_LOST). Ordering holds: no script that writes is sent while it is
    // unanswered. The classifying scripts only read the old state: sent with the writes, and
    // resent alone (by ioredis) after a reconnection, they answer the same
    const send = async (): Promise<BatchResult | undefined> => {
      const writes = execResent(this.redis, (pipe) => {
        if (!(pipe instanceof Pipeline)) throw new Error('ioredis: pipeline() did not make a Pipeline (its public class)');
        for (const [key, resp, count] of commands) pipe.sendCommand(packedCommand(this.redis, 'hset', key, resp, count));
      });
      const classified = old === undefined ? [] : classify.map((args) => classifyBatch(this.redis, this.keys, this.snap, old, args));
      // every command settled before this batch counts as answered, failed or not: a writing
      // script must not overtake a pipeline still being resent (order, above)
      const settled = await Promise.allSettled([writes, ...classified]);
      for (const s of settled) if (s.status === 'rejected') throw s.reason;
      if (old === undefined) return undefined;
      return mergedReplies(settled.slice(1).map((s) => (s as PromiseFulfilledResult<BatchResult>).value));
    };
    return { objects, list, send };
  }
}

/** Classifying replies of consecutive objects as one: statuses in order, counts summed (classifying finds no conflicts). */
function mergedReplies(replies: readonly BatchResult[]): BatchResult {
  let status = '';
  let addressesNew = 0;
  let addressesKept = 0;
  for (const r of replies) {
    status += r.status;
    addressesNew += r.addressesNew;
    addressesKept += r.addressesKept;
  }
  return { status, addressesNew, addressesKept, conflicted: [] };
}
