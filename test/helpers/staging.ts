/**
 * Fixtures for the staging tests (test/integration/fresh-stage.test.ts, restage.test.ts):
 * generated directories with conflicts, shared targets and repeated identities; staging them
 * through stageAll and through stage.lua alone; and a client that watches the scripts sent.
 */
import type { Command } from 'ioredis';
import type { ReadItem } from '../../src/directory/items.js';
import { stageAll, type StagedObjects } from '../../src/pipeline/stage-all.js';
import { Tally } from '../../src/pipeline/tally.js';
import type { PublishDeps } from '../../src/pipeline/types.js';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import { buildObject, type RecipientObject } from '../../src/routing/object.js';
import { shardKeys } from '../../src/store/keys.js';
import type { RedisClient } from '../../src/store/redis.js';
import type { SnapshotLayout, StateLayout } from '../../src/store/sharded.js';
import { createSnapshot, stageArgs, stageBatch, type BatchResult } from '../../src/store/snapshot.js';
import type { TestEnv } from './env.js';

export const PRIORITY = 10;
export const BATCH = 7;

/**
 * `n` entries over a pool of `pool` addresses; every 29th repeats an earlier identity, and
 * every 31st its predecessor's spelled with the other lone UTF-16 surrogate (both U+FFFD in
 * the object). Some pool addresses are spelled two ways that are one field: non-ASCII in two
 * cases (Jörg3 / JÖRG3). Some targets are the object's own address or any pool address.
 */
export function entries(rnd: () => number, n: number, pool: number): DirectoryEntry[] {
  const address = (): string => {
    const i = Math.floor(rnd() * pool);
    if (i % 10 === 3) return `Jörg${i}@Contoso.edu`;
    if (i % 10 === 4) return `JÖRG${i - 1}@CONTOSO.EDU`;
    return `User${i}@contoso.edu`;
  };
  return Array.from({ length: n }, (_, i) => {
    // every 29th repeats an identity; every 31st is its predecessor's with the other lone surrogate
    const lone = i % 31 === 30 ? '\uDC00' : i % 31 === 29 ? '\uD800' : '';
    const n = i % 29 === 28 ? Math.floor(rnd() * i) : i % 31 === 30 ? i - 1 : i;
    const id = `CN=o${n}${lone},OU=${n % 3},DC=contoso,DC=edu`;
    const proxies = [...new Set(Array.from({ length: 1 + Math.floor(rnd() * 3) }, address))];
    const t = rnd();
    const target = t < 0.3 ? `t${Math.floor(rnd() * (n / 8))}@live.contoso.edu` : t < 0.35 ? proxies[0] : t < 0.4 ? address() : undefined;
    return {
      id,
      dn: id,
      objectClass: target && rnd() < 0.5 ? ['contact'] : ['user'],
      proxyAddresses: proxies.map((a, k) => `${k === 0 ? 'SMTP' : 'smtp'}:${a}`),
      ...(target ? { targetAddress: `SMTP:${target}` } : {}),
      created: String(20200101 + Math.floor(rnd() * 50)),
      displayName: `o${i}`,
      origin: `gen.csv:${i + 2}`,
    };
  });
}

/** The next version of a directory: some entries gone, some renamed, some re-addressed, some new. */
export function nextVersion(rnd: () => number, list: DirectoryEntry[]): DirectoryEntry[] {
  const fresh = entries(rnd, list.length, 3000);
  const out: DirectoryEntry[] = [];
  list.forEach((e, i) => {
    const r = rnd();
    if (r < 0.1) return;
    if (r < 0.5) out.push(e);
    else if (r < 0.75) out.push({ ...e, displayName: `${e.displayName ?? ''} renamed` });
    else out.push({ ...(fresh[i] as DirectoryEntry), id: e.id, dn: e.dn, objectClass: e.objectClass });
  });
  return [...out, ...fresh.slice(0, 20).map((e, i) => ({ ...e, id: `CN=new${i}`, dn: `CN=new${i}` }))];
}

/** The entries as a reader yields them: batches of 50 (a sync iterable serves as an async one). */
export function chunks(list: DirectoryEntry[]): Iterable<ReadItem[]> {
  const out: ReadItem[][] = [];
  for (let from = 0; from < list.length; from += 50) out.push(list.slice(from, from + 50).map((entry) => ({ entry })));
  return out;
}

export async function* toAsync<T>(items: Iterable<T>): AsyncIterable<T> {
  for (const item of items) yield await Promise.resolve(item);
}

/** Every shard of every hash of a snapshot, as sorted entries. */
export async function contents(env: TestEnv, snap: SnapshotLayout): Promise<string[][][]> {
  const out: string[][][] = [];
  for (const hash of ['obj', 'addr', 'conf', 'tgt'] as const) {
    for (const key of shardKeys(env.keys, snap.id, hash, snap.shards)) out.push(Object.entries(await env.redis.hgetall(key)).sort());
  }
  return out;
}

/** The same entries staged by stage.lua alone, in batches, as every staging did before. */
export async function scriptOnly(
  env: TestEnv,
  list: DirectoryEntry[],
  shards: number,
  old?: StateLayout,
): Promise<{ snap: SnapshotLayout; replies: BatchResult[]; objects: RecipientObject[] }> {
  const snap = await createSnapshot(env.redis, env.keys, 'corp', shards);
  const objects = list.map((e) => buildObject('corp', e)).flatMap((b) => (b.ok === true ? [b.object] : []));
  const replies: BatchResult[] = [];
  for (let from = 0, b = 1; from < objects.length; from += BATCH, b++) {
    replies.push(await stageBatch(env.redis, env.keys, snap, old, stageArgs(b, objects.slice(from, from + BATCH), PRIORITY)));
  }
  return { snap, replies, objects };
}

/** The entries staged by stageAll (unpaced), into a new snapshot that replaces `old` (if any). */
export async function stageWith(
  env: TestEnv,
  list: DirectoryEntry[],
  shards: number,
  opts: { redis?: RedisClient; staged?: StagedObjects; old?: StateLayout } = {},
): Promise<{ snap: SnapshotLayout; tally: Tally; scripted: number }> {
  const deps: PublishDeps = {
    redis: opts.redis ?? env.redis,
    keys: env.keys,
    versionsKept: 5,
    stage: { batch: BATCH, inFlight: 2, duty: 1 },
  };
  const snap = await createSnapshot(env.redis, env.keys, 'corp', shards);
  const tally = new Tally();
  const { batches: scripted } = await stageAll(
    deps,
    { name: 'corp', priority: PRIORITY },
    snap,
    opts.old,
    toAsync(chunks(list)),
    tally,
    { cause: 'import' },
    undefined,
    opts.staged,
  );
  return { snap, tally, scripted };
}

/** What a watched client saw of stage.lua: scripts that write, classifying ones (N = 0), and how they were ordered. */
export interface ScriptWatch {
  /** Writing stage scripts, and those of them sent while a pipeline of plain writes was unanswered. */
  writing: number;
  early: number;
  /** Classifying scripts, and those sent after the first writing script. */
  classifying: number;
  classifyingAfterWriting: number;
}

/** `redis` as stageAll sees it, watching the stage scripts it sends (an EVAL after a NOSCRIPT is the same batch sent again). */
export function watchScripts(redis: RedisClient): { client: RedisClient; seen: ScriptWatch } {
  const seen: ScriptWatch = { writing: 0, early: 0, classifying: 0, classifyingAfterWriting: 0 };
  let unanswered = 0;
  const client = new Proxy(redis, {
    get(target, prop, receiver) {
      if (prop === 'pipeline')
        return () => {
          const pipe = target.pipeline();
          const exec = pipe.exec.bind(pipe);
          pipe.exec = async () => {
            unanswered++;
            try {
              return await exec();
            } finally {
              unanswered--;
            }
          };
          return pipe;
        };
      if (prop === 'sendCommand')
        return (command: Command) => {
          if (command.name === 'evalsha') {
            // EVALSHA sha numkeys keys… batchId N …: N = 0 classifies only (stage.lua)
            const numkeys = Number(command.args[1]);
            if (String(command.args[2 + numkeys + 1]) === '0') {
              seen.classifying++;
              if (seen.writing > 0) seen.classifyingAfterWriting++;
            } else {
              seen.writing++;
              if (unanswered > 0) seen.early++;
            }
          }
          return target.sendCommand(command);
        };
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
  return { client, seen };
}
