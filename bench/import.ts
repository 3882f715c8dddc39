/**
 * B1 (SPEC §8): Csvde import of 1,000,000 rows (3 addresses each) to a published table.
 * Prints wall time and peak RSS of `switchyard import` (a separate process), and the
 * ratio to the reference measured in the same run: csv-parse alone over the file plus
 * `redis-cli --pipe` of the same keys (HSETs of the snapshot's object and address hashes).
 *
 *   npm run bench:import [-- --rows 1000000]
 * Targets: ≤ 20 s, peak RSS ≤ 400 MB, ≤ 1.5× the reference.
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
import { run, runSwitchyard, timed } from './lib.js';

const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000;
const root = projectRoot();
const dataDir = join(root, 'bench', 'data');
const csv = join(dataDir, `b1-${ROWS}.csv`);

function resp(args: string[]): string {
  let out = `*${args.length}\r\n`;
  for (const a of args) out += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return out;
}

async function csvParseAlone(): Promise<number> {
  let n = 0;
  for await (const _ of createReadStream(csv).pipe(parse({ bom: true, relax_column_count: true }))) n++;
  return n;
}

/** The same keys our import writes (sharded as it shards them), as a RESP file for redis-cli --pipe (built untimed). */
async function writeReferenceCommands(file: string): Promise<void> {
  const keys = createKeys('bench-ref');
  const shards = chooseShards(ROWS * 3);
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

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
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
    await writeReferenceCommands(respFile);
    const [parsed, tParse] = await timed(csvParseAlone);
    const [pipe, tPipe] = await timed(() => run('redis-cli', ['-u', server.url, '--pipe'], { input: respFile }));
    if (pipe.code !== 0) throw new Error(`redis-cli --pipe failed: ${pipe.stderr || pipe.stdout}`);
    rmSync(respFile);
    await redis.flushall();

    const config = join(dataDir, 'b1.yaml');
    writeFileSync(
      config,
      stringify({
        redis: { url: server.url, namespace: 'bench' },
        connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:25'] }],
        sources: [{ name: 'bench', type: 'csvde', mailboxConnector: 'onprem' }],
      }),
    );
    const importArgs = ['import', csv, '--source', 'bench', '--json', '--config', config];
    const ours = await runSwitchyard(importArgs);
    const result = JSON.parse(ours.stdout) as { version: number; counts: { objects: number; addresses: number } };
    const [tOurs, rssMb] = [ours.seconds, ours.rssMb];
    // Not part of B1's target: a scheduled re-import of the same file diffs 1M unchanged objects.
    const again = await runSwitchyard(importArgs);
    const [tAgain, againRss] = [again.seconds, again.rssMb];
    const reference = tParse + tPipe;
    const mb = statSync(csv).size / 1e6;
    const lines = [
      `B1 Csvde import, ${ROWS} rows (${mb.toFixed(0)} MB), ${result.counts.objects} objects, ${result.counts.addresses} addresses, table version ${result.version}`,
      `  reference: csv-parse alone ${tParse.toFixed(2)} s (${parsed} records) + redis-cli --pipe ${tPipe.toFixed(2)} s = ${reference.toFixed(2)} s`,
      `  switchyard import: ${tOurs.toFixed(2)} s wall, peak RSS ${rssMb.toFixed(0)} MB`,
      `  ratio ${(tOurs / reference).toFixed(2)}× the reference (target ≤ 1.5×), ${tOurs <= 20 ? 'within' : 'OVER'} 20 s, RSS ${rssMb <= 400 ? 'within' : 'OVER'} 400 MB`,
      `  re-import of the same file (all unchanged, diffed against version 1): ${tAgain.toFixed(2)} s, peak RSS ${againRss.toFixed(0)} MB`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    redis.disconnect();
    await server.stop();
  }
}

await main();
