/**
 * Issue 13's benchmark: `contacts export` of 1,000,000 objects to Csvde, against the B1
 * import of the same objects in the same run. Prints both wall times and the export's
 * peak RSS (it streams the table's object shards: memory grows with the names, not the objects).
 *
 *   npm run bench:contacts [-- --rows 1000000]
 * Targets: export time ≤ the import time, peak RSS ≤ 200 MB.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startRedis } from '../src/main/embedded-redis.js';
import { projectRoot } from '../src/main/paths.js';
import { writeGeneratedCsvde } from './generate-csvde.js';
import { runSwitchyard } from './lib.js';

const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000;
const dataDir = join(projectRoot(), 'bench', 'data');
const csv = join(dataDir, `b1-${ROWS}.csv`);

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(csv)) {
    process.stdout.write(`generating ${csv} (${ROWS} rows)…\n`);
    await writeGeneratedCsvde(csv, ROWS);
  }
  const redisDir = join(dataDir, 'redis-contacts');
  rmSync(redisDir, { recursive: true, force: true });
  const server = await startRedis({ dir: redisDir });
  const out = join(dataDir, `contacts-${ROWS}.csv`);
  try {
    const config = join(dataDir, 'contacts.yaml');
    writeFileSync(
      config,
      stringify({
        redis: { url: server.url, namespace: 'bench' },
        connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:25'] }],
        sources: [{ name: 'bench', type: 'csvde', mailboxConnector: 'onprem' }],
      }),
    );
    const imported = await runSwitchyard(['import', csv, '--source', 'bench', '--json', '--config', config]);
    const exportArgs = [
      'contacts',
      'export',
      '--from',
      'bench',
      '--routing-domain',
      'live.contoso.edu',
      '--ou',
      'OU=Cloud Contacts,DC=contoso,DC=edu',
    ];
    const exported = await runSwitchyard([...exportArgs, '--out', out, '--config', config]);
    const lines = [
      `contacts export, ${ROWS} rows: ${exported.stderr.split('\n').find((l) => l.includes('exported')) ?? ''}`,
      `  B1 import of the same file: ${imported.seconds.toFixed(2)} s, peak RSS ${imported.rssMb.toFixed(0)} MB`,
      `  contacts export to Csvde (${(statSync(out).size / 1e6).toFixed(0)} MB): ${exported.seconds.toFixed(2)} s, peak RSS ${exported.rssMb.toFixed(0)} MB`,
      `  ratio ${(exported.seconds / imported.seconds).toFixed(2)}× the import (target ≤ 1), RSS ${exported.rssMb <= 200 ? 'within' : 'OVER'} 200 MB`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(out, { force: true });
    await server.stop();
  }
}

await main();
