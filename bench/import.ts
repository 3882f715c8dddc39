/**
 * B1 (SPEC §8): Csvde import of 1,000,000 rows (3 addresses each) to a published table, and
 * of 100,000 (where a fixed cost before the first row would show). For each size: wall time
 * and peak RSS of `switchyard import` (a separate process), and the ratio to the reference
 * measured in the same run: csv-parse alone over the file plus `redis-cli --pipe` of the same
 * keys (HSETs of the snapshot's object and address hashes).
 *
 *   npm run bench:import [-- --rows 100000,1000000] [--rounds 3] [--reimports 1] [--baseline OTHER_CHECKOUT/bin/switchyard.js]
 * Each size runs csv-parse, redis-cli --pipe and the import in turn `--rounds` times (each on an
 * emptied Redis). The ratio judged is the larger of two: the medians' ratio, and the median of
 * the rounds' own ratios (each round's is printed too; single samples moved by a third between
 * runs on the shared machine, and the two readings by up to a tenth in one run).
 * Then `--reimports` re-imports of the same file (every object unchanged; not part of B1's
 * target: the path of every scheduled full sync), each against the same published table.
 * --baseline also times another build's import of the same file in the same run (before/after),
 * and its re-imports, each right after one of ours.
 * Targets (SPEC §8): ≤ 1.5× the reference at both sizes; at 1,000,000 rows peak RSS ≤ 400 MB.
 * (An absolute 20 s of earlier SPEC versions is gone: absolute times vary between machines.)
 */
import { createReadStream, createWriteStream, existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { Redis } from 'ioredis';
import { stringify } from 'yaml';
import { startRedis } from '../src/main/embedded-redis.js';
import { projectRoot } from '../src/main/paths.js';
import { readCsvde } from '../src/directory/csvde/reader.js';
import { buildObject, objectKey, rankKey } from '../src/routing/object.js';
import { encodeObject } from '../src/store/codec.js';
import { createKeys } from '../src/store/keys.js';
import { addressShard, chooseShards, objectRef, refShard } from '../src/store/shards.js';
import { writeGeneratedCsvde } from './generate-csvde.js';
import { benchTableConfig, median, run, runSwitchyard, timed } from './lib.js';
import { ThreadTimes } from './thread-times.js';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const SIZES = (arg('--rows') ?? '100000,1000000').split(',').map(Number);
const BASELINE = arg('--baseline');
const ROUNDS = Math.max(1, Number(arg('--rounds') ?? 3) || 1);
const REIMPORTS = Math.max(1, Number(arg('--reimports') ?? 1) || 1);
const root = projectRoot();
const dataDir = join(root, 'bench', 'data');

function resp(args: string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

async function csvParseAlone(csv: string): Promise<number> {
  let n = 0;
  for await (const _ of createReadStream(csv).pipe(parse({ bom: true, relax_column_count: true }))) n++;
  return n;
}

/** The same keys our import writes (sharded as it shards them), as a RESP file for redis-cli --pipe (built untimed). */
async function writeReferenceCommands(csv: string, rows: number, file: string): Promise<void> {
  const keys = createKeys('bench-ref');
  const shards = chooseShards(rows * 3);
  const out = createWriteStream(file);
  let buf = '';
  for await (const item of (async function* () {
    for await (const batch of readCsvde(csv)) yield* batch;
  })()) {
    if (!('entry' in item)) continue;
    const built = buildObject('bench', item.entry);
    if (built.ok !== true) continue;
    const o = built.object;
    const ref = objectRef(objectKey(o));
    buf += resp(['HSET', keys.snapshotObjects('1', refShard(ref, shards)), ref, encodeObject(o, rankKey(o, 0))]);
    for (const a of o.addresses) {
      const lowered = a.toLowerCase();
      buf += resp(['HSET', keys.snapshotAddresses('1', addressShard(lowered, shards)), lowered, ref]);
    }
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

async function measure(ROWS: number): Promise<{ rows: number; ratio: number }> {
  const csv = join(dataDir, `b1-${ROWS}.csv`);
  if (!existsSync(csv)) {
    process.stdout.write(`generating ${csv} (${ROWS} rows)…\n`);
    await writeGeneratedCsvde(csv, ROWS);
  }
  const redisDir = join(dataDir, 'redis');
  rmSync(redisDir, { recursive: true, force: true });
  const server = await startRedis({ dir: redisDir });
  const redis = new Redis(server.url);
  try {
    const respFile = join(dataDir, `b1-${ROWS}.resp`);
    await writeReferenceCommands(csv, ROWS, respFile);
    const config = join(dataDir, 'b1.yaml');
    writeFileSync(
      config,
      stringify({
        redis: { url: server.url, namespace: 'bench' },
        connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:25'] }],
        sources: [{ name: 'bench', type: 'csvde', mailboxConnector: 'onprem' }],
        ...benchTableConfig(),
      }),
    );
    const importArgs = ['import', csv, '--source', 'bench', '--json', '--config', config];
    const redisPid = server.process.pid ?? 0;
    const rounds: { parse: number; pipe: number; ours: number; rssMb: number; threads: string; benchCpu: number }[] = [];
    let parsed = 0;
    let result: { version: number; counts: { objects: number; addresses: number } } | undefined;
    for (let r = 0; r < ROUNDS; r++) {
      await redis.flushall();
      const [n, tParse] = await timed(() => csvParseAlone(csv));
      parsed = n;
      const [pipe, tPipe] = await timed(() => run('redis-cli', ['-u', server.url, '--pipe'], { input: respFile }));
      if (pipe.code !== 0) throw new Error(`redis-cli --pipe failed: ${pipe.stderr || pipe.stdout}`);
      await redis.flushall();
      let threads: ThreadTimes | undefined;
      const cpuBefore = process.cpuUsage();
      const ours = await runSwitchyard(
        importArgs,
        process.env,
        undefined,
        undefined,
        (pid) => (threads = new ThreadTimes(pid, { Redis: redisPid })),
      );
      const cpu = process.cpuUsage(cpuBefore);
      result = JSON.parse(ours.stdout) as { version: number; counts: { objects: number; addresses: number } };
      rounds.push({
        benchCpu: (cpu.user + cpu.system) / 1e6,
        parse: tParse,
        pipe: tPipe,
        ours: ours.seconds,
        rssMb: ours.rssMb,
        threads: threads?.report() ?? 'threads: not sampled',
      });
    }
    rmSync(respFile);
    const [tParse, tPipe, tOurs] = [
      median(rounds.map((r) => r.parse)),
      median(rounds.map((r) => r.pipe)),
      median(rounds.map((r) => r.ours)),
    ];
    const rssMb = Math.max(...rounds.map((r) => r.rssMb));
    const threadLine = `last round's ${(rounds[rounds.length - 1] as (typeof rounds)[number]).threads}`;
    const perRound = rounds.map(
      (r, i) =>
        `    round ${i + 1}: reference ${(r.parse + r.pipe).toFixed(2)} s, import ${r.ours.toFixed(2)} s: ${(r.ours / (r.parse + r.pipe)).toFixed(2)}× (this bench process's own CPU meanwhile ${r.benchCpu.toFixed(2)} s)`,
    );
    // Not part of B1's target: a scheduled re-import of the same file diffs every unchanged object,
    // unpaced here since no relay answers lookups (src/pipeline/staging-pace.ts). An unchanged
    // re-import publishes no new version, so each one diffs against the same state
    const agains: { ours: number; rssMb: number; base?: number; baseRssMb?: number }[] = [];
    for (let r = 0; r < REIMPORTS; r++) {
      const again = await runSwitchyard(importArgs);
      const base = BASELINE !== undefined ? await runSwitchyard(importArgs, process.env, undefined, BASELINE) : undefined;
      agains.push({
        ours: again.seconds,
        rssMb: again.rssMb,
        ...(base !== undefined ? { base: base.seconds, baseRssMb: base.rssMb } : {}),
      });
    }
    const [tAgain, againRss] = [median(agains.map((a) => a.ours)), Math.max(...agains.map((a) => a.rssMb))];
    const tAgainBase = BASELINE !== undefined ? median(agains.map((a) => a.base ?? NaN)) : undefined;
    const againBaseRss = Math.max(...agains.map((a) => a.baseRssMb ?? NaN));
    // last, on an empty Redis again: this build's import keeps its place right after the reference
    let before: { seconds: number; rssMb: number } | undefined;
    if (BASELINE !== undefined) {
      await redis.flushall();
      before = await runSwitchyard(importArgs, process.env, undefined, BASELINE);
    }
    const reference = tParse + tPipe;
    // two readings of one run: the ratio of the medians, and the median of each round's own
    // ratio (import against the reference measured just before it, which a machine whose speed
    // drifts between rounds moves less); the target is judged by the larger
    const ofMedians = tOurs / reference;
    const ofRounds = median(rounds.map((r) => r.ours / (r.parse + r.pipe)));
    const ratio = Math.max(ofMedians, ofRounds);
    const mb = statSync(csv).size / 1e6;
    const bounds = ROWS >= 1_000_000 ? `, RSS ${rssMb <= 400 ? 'within' : 'OVER'} 400 MB` : '';
    const lines = [
      `B1 Csvde import, ${ROWS} rows (${mb.toFixed(0)} MB), ${result?.counts.objects} objects, ${result?.counts.addresses} addresses, table version ${result?.version}; medians of ${ROUNDS} rounds`,
      `  reference: csv-parse alone ${tParse.toFixed(2)} s (${parsed} records) + redis-cli --pipe ${tPipe.toFixed(2)} s = ${reference.toFixed(2)} s`,
      ...(before !== undefined
        ? [
            `  baseline ${BASELINE}: ${before.seconds.toFixed(2)} s wall, peak RSS ${before.rssMb.toFixed(0)} MB = ${(before.seconds / reference).toFixed(2)}× the reference`,
          ]
        : []),
      `  switchyard import: ${tOurs.toFixed(2)} s wall, peak RSS ${rssMb.toFixed(0)} MB`,
      `  ratio ${ratio.toFixed(2)}× the reference (target ≤ 1.5×; the larger of the medians' ratio ${ofMedians.toFixed(2)}× and the rounds' median ratio ${ofRounds.toFixed(2)}×)${bounds}`,
      ...perRound,
      `  ${threadLine}`,
      `  re-import of the same file (all unchanged, diffed against version 1; no relay answers, so unpaced; median of ${REIMPORTS}): ${tAgain.toFixed(2)} s, peak RSS ${againRss.toFixed(0)} MB${tAgainBase !== undefined ? `; baseline ${tAgainBase.toFixed(2)} s, peak RSS ${againBaseRss.toFixed(0)} MB (ours ${(tAgain / tAgainBase).toFixed(2)}× its time)` : ''}`,
      ...(REIMPORTS > 1
        ? [
            `    re-imports: ${agains.map((a) => `${a.ours.toFixed(2)}${a.base !== undefined ? `/${a.base.toFixed(2)}` : ''}`).join(', ')} s${BASELINE !== undefined ? ' (ours/baseline)' : ''}`,
          ]
        : []),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    return { rows: ROWS, ratio };
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  const ratios: string[] = [];
  for (const rows of SIZES) {
    const { ratio } = await measure(rows);
    ratios.push(`${rows} rows ${ratio.toFixed(2)}× (${ratio <= 1.5 ? 'within' : 'OVER'} 1.5×)`);
  }
  process.stdout.write(`B1 summary: ${ratios.join(', ')}\n`);
}

await main();
