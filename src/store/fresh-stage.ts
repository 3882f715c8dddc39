/**
 * Staging without a script, for a snapshot that replaces no published state (a source's
 * first import or sync; B1 and B2, issue 15). stage.lua pays for what a first staging
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
 * Order, which the caller keeps (src/pipeline/stage-all.ts): a script runs only once every
 * plain write before it has been answered, so a plain write resent after a reconnection
 * never undoes a script's decision; and every field of a scripted object is claimed too, so
 * no later plain write touches a field a script decides.
 */
import { Pipeline } from 'ioredis';
import { objectKey, rankKey, type RecipientObject } from '../routing/object.js';
import { encodeObject } from './codec.js';
import { packedCommand, respCommand } from './encoded-command.js';
import { execResent } from './resent-pipeline.js';
import { fingerprint, FingerprintSet, MAX_FINGERPRINTS } from './fingerprints.js';
import { shardKeys, type Keys } from './keys.js';
import type { RedisClient } from './redis.js';
import type { SnapshotLayout } from './sharded.js';
import { hashedRef } from './shards.js';

// One seed per kind of field: an address, a target and an object key may be the same text.
const SEED_KEY = 0x2545f491;
const SEED_ADDRESS = 0x1b873593;
const SEED_TARGET = 0x7f4a7c15;

/** One batch's `HSET` arguments: per hash, per shard, the key then field/value pairs. */
type Groups = (string[] | undefined)[];

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

  constructor(
    private readonly redis: RedisClient,
    keys: Keys,
    snap: SnapshotLayout,
    expectedAddresses = 0,
    /** Fields fingerprinted at most (the fingerprint set's bound). */
    private readonly maxFields = MAX_FINGERPRINTS,
  ) {
    // an object has ~3 addresses, an identity and maybe a target: 1.5 fields per address
    this.claimed = new FingerprintSet(Math.ceil(1.5 * expectedAddresses));
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
    this.field(this.obj, this.names.obj, refHash, ref, encodeObject(o, rankKey(o, priority), lowered));
    if (target !== '') this.field(this.tgt, this.names.tgt, targetHash, target, ref);
    for (let i = 0; i < lowered.length; i++) this.field(this.addr, this.names.addr, hashes[i] as number, lowered[i] as string, ref);
    this.count++;
    return true;
  }

  private field(groups: Groups, names: readonly string[], hash: number, f: string, v: string): void {
    const shard = hash & this.mask;
    const group = groups[shard];
    if (group === undefined) groups[shard] = [names[shard] as string, f, v];
    else group.push(f, v);
  }

  /** Takes the batch built so far (a new one starts): `send` writes it, one `HSET` per touched shard of each hash, in one pipeline. */
  take(): { readonly objects: number; readonly send: () => Promise<void> } {
    // encoded now: what waits for a slot and for Redis's answer is off the JS heap. The obj
    // hash last: Redis loses writes as a suffix of what it ran (an AOF cut, a replica behind),
    // so a loss that reaches a batch's targets or addresses takes objects too, which the
    // count before publishing sees (it counts objects and addresses, not targets)
    const commands: [key: string, resp: Buffer, count: number][] = [];
    for (const groups of [this.tgt, this.addr, this.obj]) {
      for (const args of groups)
        if (args !== undefined) commands.push([args[0] as string, respCommand('hset', args[0] as string, args, 1), args.length - 1]);
    }
    const objects = this.count;
    this.obj = [];
    this.addr = [];
    this.tgt = [];
    this.count = 0;
    // idempotent (the same fields, the same values): sent again whole when a connection
    // closed under it half answered; what Redis lost of the answered part is caught before
    // publishing (SY_STAGING_LOST). Ordering holds: no script is sent while it is unanswered.
    const send = async (): Promise<void> => {
      await execResent(this.redis, (pipe) => {
        if (!(pipe instanceof Pipeline)) throw new Error('ioredis: pipeline() did not make a Pipeline (its public class)');
        for (const [key, resp, count] of commands) pipe.sendCommand(packedCommand(this.redis, 'hset', key, resp, count));
      });
    };
    return { objects, send };
  }
}
