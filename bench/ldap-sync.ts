/**
 * B2 (SPEC §8): full LDAP sync of 100,000 entries from a local slapd (bulk-loaded with
 * slapadd), against the reference in the same run: `ldapsearch -E pr=1000/noprompt`
 * dumping the same entries and attributes over the same connection type.
 *
 *   npm run bench:ldap [-- --rows 100000] [--parts 4] [--client-only] [--profile DIR]
 * Target: ≤ 1.5× the reference and ≤ 1.3× ldapts reading the same entries alone. Measured
 * with one search and with `--parts` parallel searches over uSNChanged ranges (configured
 * `partitions: { by: filters }`, which adds the remainder part none of them matches).
 * "ldapts alone" is ldapts with its default decoding (the reference of the 1.3× target);
 * the extra "lean entry decoder" line is the same client with the sync's decoder.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'ldapts';
import type { LdapSourceConfig } from '../src/config/schema.js';
import { stringify } from 'yaml';
import { startRedis } from '../src/main/embedded-redis.js';
import { SERVICE_DN, startSlapd } from '../testkit/embedded-slapd.js';
import { projectRoot } from '../src/main/paths.js';
import { adMapping, searchFilter } from '../src/directory/ldap/mapping.js';
import { filterParts, partFilter } from '../src/directory/ldap/partitions.js';
import { useLeanDecoder } from '../src/directory/ldap/ldapts-internals.js';
import { writeGeneratedLdif } from './generate-ldif.js';
import { benchTableConfig, run, runSwitchyard, timed } from './lib.js';
import { ThreadTimes } from './thread-times.js';

const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 100_000;
const partsArg = process.argv.indexOf('--parts');
const PARTS = partsArg > 0 ? Number(process.argv[partsArg + 1]) : 4;
const CLIENT_ONLY = process.argv.includes('--client-only');
const profileArg = process.argv.indexOf('--profile');
/** `--profile DIR`: the first sync of each kind writes a V8 CPU profile there (bench/cpu-profile.mjs). */
const PROFILE_DIR = profileArg > 0 ? process.argv[profileArg + 1] : undefined;
const profiled = (env: NodeJS.ProcessEnv, name: string): NodeJS.ProcessEnv =>
  PROFILE_DIR === undefined
    ? env
    : {
        ...env,
        NODE_OPTIONS: `--import ${join(projectRoot(), 'bench', 'cpu-profile.mjs')}`,
        SY_BENCH_CPU_PROFILE: join(PROFILE_DIR, `${name}.cpuprofile`),
      };
const LDAPTS_VERSION = (
  JSON.parse(readFileSync(join(projectRoot(), 'node_modules', 'ldapts', 'package.json'), 'utf8')) as { version: string }
).version;
/** The generated entries' uSNChanged run from 10000 (generate-ldif.ts): PARTS equal ranges. */
function usnFilters(parts: number): string[] {
  const step = Math.ceil(ROWS / parts);
  return Array.from({ length: parts }, (_, i) =>
    i === parts - 1
      ? `(uSNChanged>=${10_000 + i * step})`
      : `(&(uSNChanged>=${10_000 + i * step})(uSNChanged<=${10_000 + (i + 1) * step - 1}))`,
  );
}

interface Slapd {
  readonly ldapUrl: string;
  readonly caFile: string;
  readonly servicePassword: string;
}

/**
 * ldapts alone: the same paged searches, entries discarded, `connections` at a time over
 * `filters`, with ldapts's own decoding (or, `lean`, with Switchyard's lean entry decoder).
 */
async function ldaptsAlone(slapd: Slapd, filters: readonly string[], connections: number, lean = false): Promise<number> {
  let next = 0;
  let n = 0;
  const worker = async (): Promise<void> => {
    const client = new Client({ url: slapd.ldapUrl });
    if (lean) useLeanDecoder(client);
    await client.startTLS({ ca: [readFileSync(slapd.caFile)] });
    await client.bind(SERVICE_DN, slapd.servicePassword);
    for (let i = next++; i < filters.length; i = next++) {
      const pages = client.searchPaginated('dc=contoso,dc=edu', {
        scope: 'sub',
        filter: filters[i] as string,
        attributes: [...adMapping.attributes],
        explicitBufferAttributes: [...adMapping.binary],
        paged: { pageSize: 1000 },
      });
      for await (const page of pages) n += page.searchEntries.length;
    }
    await client.unbind();
  };
  await Promise.all(Array.from({ length: Math.min(connections, filters.length) }, worker));
  return n;
}
const cpuSeconds = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;
/** The CPU time a switchyard run reported on exit (report-rss.cjs), in seconds. */
const childCpu = (stderr: string): number => Number(/SY_BENCH_CPU_MS=(\d+)/.exec(stderr)?.[1] ?? NaN) / 1000;
const dataDir = join(projectRoot(), 'bench', 'data');
const ldif = join(dataDir, `b2-${ROWS}.ldif`);

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  if (PROFILE_DIR !== undefined) mkdirSync(PROFILE_DIR, { recursive: true }); // cpu-profile.mjs writes into it on exit
  if (!existsSync(ldif)) await writeGeneratedLdif(ldif, ROWS);
  const slapdDir = join(dataDir, 'slapd');
  const redisDir = join(dataDir, 'redis-b2');
  rmSync(slapdDir, { recursive: true, force: true });
  rmSync(redisDir, { recursive: true, force: true });
  const [slapd, tSlapadd] = await timed(() => startSlapd({ dir: slapdDir, ldif: [ldif] }));
  const redis = await startRedis({ dir: redisDir });
  try {
    const filter = searchFilter(adMapping, undefined);
    const dump = await timed(() =>
      run(
        'ldapsearch',
        [
          '-x',
          '-ZZ', // StartTLS, as Switchyard must use for a simple bind (SPEC §2.2)
          '-LLL',
          '-H',
          slapd.ldapUrl,
          '-D',
          SERVICE_DN,
          '-w',
          slapd.servicePassword,
          '-b',
          'dc=contoso,dc=edu',
          '-E',
          'pr=1000/noprompt',
          filter,
          ...adMapping.attributes,
        ],
        { discardStdout: true, env: { ...process.env, LDAPTLS_CACERT: slapd.caFile } },
      ),
    );
    if (dump[0].code !== 0) throw new Error(`ldapsearch failed: ${dump[0].stderr}`);
    const tRef = dump[1];
    // The floor of any client built on ldapts: the same paged search, entries discarded.
    const cpu0 = process.cpuUsage();
    const [nClient, tClient] = await timed(() => ldaptsAlone(slapd, [filter], 1));
    const cpuClient = cpuSeconds(process.cpuUsage(cpu0));
    // Extra line, not a reference: the same client with the sync's lean entry decoder (ldapts-internals.ts).
    const cpu1 = process.cpuUsage();
    const [nLean, tLean] = await timed(() => ldaptsAlone(slapd, [filter], 1, true));
    const cpuLean = cpuSeconds(process.cpuUsage(cpu1));
    const configured = usnFilters(PARTS);
    const partFilters = filterParts(configured).map((p) => partFilter(filter, p));
    const [nParts, tParts] = await timed(() => ldaptsAlone(slapd, partFilters, PARTS));
    const head = [
      `B2 full LDAP sync, ${ROWS} entries (slapadd ${tSlapadd.toFixed(1)} s)`,
      `  reference: ldapsearch -E pr=1000/noprompt of the same entries and attributes: ${tRef.toFixed(2)} s`,
      `  ldapts ${LDAPTS_VERSION} alone, one search (entries discarded, in-process): ${tClient.toFixed(2)} s = ${(tClient / tRef).toFixed(2)}× the reference (${nClient} entries); CPU ${cpuClient.toFixed(2)} s`,
      `  (extra) ldapts with Switchyard's lean entry decoder, one search (entries discarded): ${tLean.toFixed(2)} s = ${(tLean / tRef).toFixed(2)}× the reference, ${(tLean / tClient).toFixed(2)}× ldapts alone (${nLean} entries); CPU ${cpuLean.toFixed(2)} s`,
      `  ldapts alone, ${partFilters.length} parts (${PARTS} uSNChanged ranges + remainder) on ${PARTS} connections: ${tParts.toFixed(2)} s = ${(tParts / tRef).toFixed(2)}× the reference (${nParts} entries)`,
    ];
    if (CLIENT_ONLY) {
      process.stdout.write(`${head.join('\n')}\n`);
      return;
    }
    const configFor = (namespace: string, partitions?: LdapSourceConfig['partitions']): string => {
      const config = join(dataDir, `${namespace}.yaml`);
      writeFileSync(
        config,
        stringify({
          redis: { url: redis.url, namespace },
          connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:25'] }],
          sources: [
            {
              name: 'ad',
              type: 'ldap',
              url: slapd.ldapUrl,
              startTls: true,
              caFile: slapd.caFile,
              bindDn: SERVICE_DN,
              bindPasswordEnv: 'B2_LDAP_PASSWORD',
              baseDn: 'dc=contoso,dc=edu',
              mailboxConnector: 'onprem',
              ...(partitions ? { partitions } : {}),
            },
          ],
          ...benchTableConfig(),
        }),
      );
      return config;
    };
    const env = { ...process.env, B2_LDAP_PASSWORD: slapd.servicePassword, REDIS_URL: '' };
    type Out = { version: number; counts: { objects: number; addresses: number }; partitions?: { searches: number; fallback?: string } };
    const config = configFor('bench-b2');
    let threads: ThreadTimes | undefined;
    const ours = await runSwitchyard(
      ['sync', 'ad', '--full', '--json', '--config', config],
      profiled(env, 'sync-one'),
      undefined,
      undefined,
      (pid) => {
        threads = new ThreadTimes(pid, { Redis: redis.process.pid ?? 0 });
      },
    );
    const threadLine = threads?.report() ?? 'threads: not sampled';
    const result = JSON.parse(ours.stdout) as Out;
    const configP = configFor('bench-b2p', { by: 'filters', filters: configured, connections: PARTS });
    const oursP = await runSwitchyard(['sync', 'ad', '--full', '--json', '--config', configP], profiled(env, 'sync-parts'));
    const resultP = JSON.parse(oursP.stdout) as Out;
    const again = await runSwitchyard(['sync', 'ad', '--full', '--json', '--config', config], env);
    const ratios = (t: number): string =>
      `${(t / tRef).toFixed(2)}× ldapsearch (target ≤ 1.5×), ${(t / tClient).toFixed(2)}× ldapts alone one search (target ≤ 1.3×), ${(t / tParts).toFixed(2)}× ldapts alone in parts`;
    process.stdout.write(
      [
        ...head,
        `  switchyard sync --full, one search: ${ours.seconds.toFixed(2)} s wall, peak RSS ${ours.rssMb.toFixed(0)} MB; ${result.counts.objects} objects, ${result.counts.addresses} addresses, table version ${result.version}`,
        `    ratio ${ratios(ours.seconds)}`,
        `    (extra) CPU of the sync process ${childCpu(ours.stderr).toFixed(2)} s = ${(childCpu(ours.stderr) / cpuClient).toFixed(2)}× the CPU of ldapts alone (start-up included; a figure the machine's load disturbs less than wall time)`,
        `    (extra) ${threadLine}`,
        `  switchyard sync --full, partitions ${resultP.partitions?.searches ?? '?'} searches on ${PARTS} connections${resultP.partitions?.fallback ? ` (fell back: ${resultP.partitions.fallback})` : ''}: ${oursP.seconds.toFixed(2)} s wall, peak RSS ${oursP.rssMb.toFixed(0)} MB; ${resultP.counts.objects} objects, ${resultP.counts.addresses} addresses`,
        `    ratio ${ratios(oursP.seconds)}${oursP.seconds < ours.seconds ? ' (with partitions only)' : ''}`,
        `  second full sync, one search (all unchanged): ${again.seconds.toFixed(2)} s, peak RSS ${again.rssMb.toFixed(0)} MB`,
        '',
      ].join('\n'),
    );
  } finally {
    await slapd.stop();
    await redis.stop();
  }
}

await main();
