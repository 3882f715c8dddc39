/**
 * Issue 13's benchmark.
 * 1. `contacts export` of 1,000,000 objects to Csvde, against the B1 import of the same
 *    objects in the same run: both wall times and the export's peak RSS (it streams the
 *    table's object shards: memory grows with the names, not the objects).
 * 2. `contacts apply` of 10,000 contacts into a local slapd (AD-like schema), against
 *    `ldapadd` of the same contacts exported as LDIF, same run.
 *
 *   npm run bench:contacts [-- --rows 1000000 --contacts 10000]
 * Targets: export time ≤ the import time, peak RSS ≤ 200 MB.
 */
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Client } from 'ldapts';
import { startRedis } from '../src/main/embedded-redis.js';
import { ADMIN_DN, startSlapd, SUFFIX } from '../testkit/embedded-slapd.js';
import { projectRoot } from '../src/main/paths.js';
import { writeGeneratedCsvde } from './generate-csvde.js';
import { run, runSwitchyard, timed } from './lib.js';

const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 1_000_000;
const dataDir = join(projectRoot(), 'bench', 'data');
const csv = join(dataDir, `b1-${ROWS}.csv`);
const contactsArg = process.argv.indexOf('--contacts');
const CONTACTS = contactsArg > 0 ? Number(process.argv[contactsArg + 1]) : 10_000;

/** 2: apply of CONTACTS contacts into slapd, and ldapadd of the same LDIF into another OU. */
async function applyBench(redisUrl: string): Promise<string[]> {
  const rows = Math.ceil(CONTACTS / 0.6); // six rows in ten are mailboxes (bench/generate-csvde.ts)
  const file = join(dataDir, `contacts-apply-${rows}.csv`);
  if (!existsSync(file)) await writeGeneratedCsvde(file, rows);
  const slapdDir = join(dataDir, 'slapd-contacts');
  rmSync(slapdDir, { recursive: true, force: true });
  const slapd = await startSlapd({ dir: slapdDir });
  try {
    const client = new Client({ url: slapd.ldapUrl });
    await client.bind(ADMIN_DN, slapd.adminPassword);
    for (const ou of ['Applied', 'Added']) await client.add(`ou=${ou},${SUFFIX}`, { objectClass: 'organizationalUnit', ou });
    await client.unbind();
    const config = join(dataDir, 'contacts-apply.yaml');
    writeFileSync(
      config,
      stringify({
        redis: { url: redisUrl, namespace: 'bench-apply' },
        connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:25'] }],
        sources: [
          { name: 'cloud', type: 'csvde', mailboxConnector: 'onprem' },
          {
            name: 'dir',
            type: 'ldap',
            url: slapd.ldapsUrl,
            caFile: slapd.caFile,
            bindDn: ADMIN_DN,
            bindPasswordEnv: 'SY_BENCH_PW',
            baseDn: SUFFIX,
            mailboxConnector: 'onprem',
          },
        ],
      }),
    );
    const env = { ...process.env, SY_BENCH_PW: slapd.adminPassword };
    await runSwitchyard(['import', file, '--source', 'cloud', '--config', config], env);
    const common = ['--from', 'cloud', '--routing-domain', 'live.contoso.edu', '--config', config];
    const applied = await runSwitchyard(
      ['contacts', 'apply', '--to', 'dir', '--ou', `ou=Applied,${SUFFIX}`, '--inline', '--json', ...common],
      env,
    );
    const counts = (JSON.parse(applied.stdout) as { counts: Record<string, number> }).counts;
    const ldif = join(dataDir, 'contacts-apply.ldif');
    await runSwitchyard(['contacts', 'export', '--ou', `ou=Added,${SUFFIX}`, '--format', 'ldif', '--out', ldif, ...common], env);
    const [added, tAdd] = await timed(() =>
      run('ldapadd', ['-x', '-H', slapd.ldapUrl, '-D', ADMIN_DN, '-w', slapd.adminPassword, '-f', ldif], { discardStdout: true }),
    );
    if (added.code !== 0) throw new Error(`ldapadd failed: ${added.stderr}`);
    const again = await runSwitchyard(
      ['contacts', 'apply', '--to', 'dir', '--ou', `ou=Applied,${SUFFIX}`, '--inline', '--json', ...common],
      env,
    );
    return [
      `contacts apply into slapd: ${counts.added} added in ${applied.seconds.toFixed(2)} s (peak RSS ${applied.rssMb.toFixed(0)} MB); ldapadd of the same LDIF ${tAdd.toFixed(2)} s (${(applied.seconds / tAdd).toFixed(2)}×)`,
      `  second apply (nothing to change): ${again.seconds.toFixed(2)} s`,
    ];
  } finally {
    await slapd.stop();
  }
}

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
    lines.push(...(await applyBench(server.url)));
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    rmSync(out, { force: true });
    await server.stop();
  }
}

await main();
