/**
 * B2 (SPEC §8): full LDAP sync of 100,000 entries from a local slapd (bulk-loaded with
 * slapadd), against the reference in the same run: `ldapsearch -E pr=1000/noprompt`
 * dumping the same entries and attributes over the same connection type.
 *
 *   npm run bench:ldap [-- --rows 100000] [--rounds 3] [--parts 4] [--client-only] [--profile DIR]
 *     [--baseline OTHER_CHECKOUT/bin/switchyard.js]
 * Target: ≤ 1.5× the reference and ≤ 1.3× ldapts reading the same entries alone. The
 * reference, ldapts alone and the sync run in turn `--rounds` times (each sync a first one,
 * into a namespace of its own); the ratios are of the medians, each round's beside them (one
 * sample of each moved the ratio by a third between runs on the shared machine). Measured
 * with one search and with `--parts` parallel searches over uSNChanged ranges (configured
 * `partitions: { by: filters }`, which adds the remainder part none of them matches).
 * "ldapts alone" is ldapts with its default decoding and the sync's default page size (the
 * reference of the 1.3× target: the same requests; ldapsearch asks pages of 1000);
 * the extra "lean entry decoder" line is the same client with the sync's decoder, its entries
 * folded as the sync's own searches get them (folded-entry.ts).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { LDAP_PAGE_SIZE, type LdapSourceConfig } from '../src/config/schema.js';
import { stringify } from 'yaml';
import { startRedis } from '../src/main/embedded-redis.js';
import { SERVICE_DN, startSlapd } from '../testkit/embedded-slapd.js';
import { projectRoot } from '../src/main/paths.js';
import { adMapping, searchFilter } from '../src/directory/ldap/mapping.js';
import { filterParts, partFilter } from '../src/directory/ldap/partitions.js';
import { useLeanDecoder } from '../src/directory/ldap/ldapts-internals.js';
import { foldedRequest } from '../src/directory/ldap/folded-entry.js';
import { writeGeneratedLdif } from './generate-ldif.js';
import { benchTableConfig, median, run, runSwitchyard, span, timed } from './lib.js';
import { ThreadTimes } from './thread-times.js';

const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 100_000;
const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = Math.max(1, roundsArg > 0 ? Number(process.argv[roundsArg + 1]) || 1 : 3);
const partsArg = process.argv.indexOf('--parts');
const PARTS = partsArg > 0 ? Number(process.argv[partsArg + 1]) : 4;
const CLIENT_ONLY = process.argv.includes('--client-only');
const baselineArg = process.argv.indexOf('--baseline');
/** `--baseline BIN`: another build's sync too, each round before or after ours in turn, into a namespace of its own (before/after). */
const BASELINE = baselineArg > 0 ? process.argv[baselineArg + 1] : undefined;
if (baselineArg > 0 && (BASELINE === undefined || BASELINE.startsWith('--')))
  throw new Error('--baseline needs a path: OTHER_CHECKOUT/bin/switchyard.js');
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
 * `filters`, with ldapts's own decoding (or, `lean`, with Switchyard's lean entry decoder and
 * the search marked as the sync marks its own: entries folded).
 */
async function ldaptsAlone(
  slapd: Slapd,
  filters: readonly string[],
  connections: number,
  lean = false,
  pageSize = LDAP_PAGE_SIZE,
): Promise<number> {
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
        attributes: lean ? foldedRequest([...adMapping.attributes]) : [...adMapping.attributes],
        explicitBufferAttributes: [...adMapping.binary],
        paged: { pageSize }, // by default the sync's default page size: the same requests
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
    const ldapsearch = async (): Promise<number> => {
      const [r, t] = await timed(() =>
        run(
          'ldapsearch',
          // StartTLS (-ZZ), as Switchyard must use for a simple bind (SPEC §2.2)
          [
            '-x',
            '-ZZ',
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
      if (r.code !== 0) throw new Error(`ldapsearch failed: ${r.stderr}`);
      return t;
    };
    /** ldapts alone (the floor of any client built on it), or with the sync's lean decoder: seconds, CPU seconds, entries. */
    const alone = async (lean: boolean, pageSize = LDAP_PAGE_SIZE): Promise<{ t: number; cpu: number; n: number }> => {
      const cpu0 = process.cpuUsage();
      const [n, t] = await timed(() => ldaptsAlone(slapd, [filter], 1, lean, pageSize));
      return { t, cpu: cpuSeconds(process.cpuUsage(cpu0)), n };
    };
    const configured = usnFilters(PARTS);
    const partFilters = filterParts(configured).map((p) => partFilter(filter, p));
    const configFor = (namespace: string, partitions?: LdapSourceConfig['partitions']): string => {
      const config = join(dataDir, `${namespace}.yaml`);
      const source = { name: 'ad', type: 'ldap', url: slapd.ldapUrl, startTls: true, caFile: slapd.caFile, bindDn: SERVICE_DN };
      const rest = { bindPasswordEnv: 'B2_LDAP_PASSWORD', baseDn: 'dc=contoso,dc=edu', mailboxConnector: 'onprem' };
      writeFileSync(
        config,
        stringify({
          redis: { url: redis.url, namespace },
          connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:25'] }],
          sources: [{ ...source, ...rest, ...(partitions ? { partitions } : {}) }],
          ...benchTableConfig(),
        }),
      );
      return config;
    };
    const env = { ...process.env, B2_LDAP_PASSWORD: slapd.servicePassword, REDIS_URL: '' };
    type Out = { version: number; counts: { objects: number; addresses: number }; partitions?: { searches: number; fallback?: string } };
    type Alone = { t: number; cpu: number; n: number };
    const rounds: { ref: number; client: Alone; lean: Alone; client1000: Alone }[] = [];
    const syncs: { seconds: number; rssMb: number; cpu: number; out: Out; threads: string }[] = [];
    const baseline: { seconds: number; cpu: number }[] = [];
    const lines: string[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      rounds.push({ ref: await ldapsearch(), client: await alone(false), lean: await alone(true), client1000: await alone(false, 1000) });
      if (CLIENT_ONLY) continue;
      const runBaseline = async (): Promise<void> => {
        if (BASELINE === undefined) return;
        const theirs = await runSwitchyard(
          ['sync', 'ad', '--full', '--json', '--config', configFor(`bench-b2-base-${r}`)],
          env,
          undefined,
          BASELINE,
        );
        baseline.push({ seconds: theirs.seconds, cpu: childCpu(theirs.stderr) });
      };
      if (r % 2 === 1) await runBaseline(); // before ours in odd rounds, after it in even ones
      let threads: ThreadTimes | undefined;
      const config = configFor(`bench-b2-${r}`);
      const ours = await runSwitchyard(
        ['sync', 'ad', '--full', '--json', '--config', config],
        profiled(env, `sync-one-${r}`),
        undefined,
        undefined,
        (pid) => {
          threads = new ThreadTimes(pid, { Redis: redis.process.pid ?? 0 });
        },
      );
      const out = JSON.parse(ours.stdout) as Out;
      syncs.push({
        seconds: ours.seconds,
        rssMb: ours.rssMb,
        cpu: childCpu(ours.stderr),
        out,
        threads: threads?.report() ?? 'threads: not sampled',
      });
      if (r % 2 === 0) await runBaseline();
      const { ref, client } = rounds[r] as (typeof rounds)[number];
      lines.push(
        `    round ${r + 1}: ldapsearch ${ref.toFixed(2)} s, ldapts alone ${client.t.toFixed(2)} s, sync ${ours.seconds.toFixed(2)} s: ${(ours.seconds / ref).toFixed(2)}× ldapsearch, ${(ours.seconds / client.t).toFixed(2)}× ldapts alone`,
      );
    }
    const tRef = median(rounds.map((r) => r.ref));
    const tClient = median(rounds.map((r) => r.client.t));
    const cpuClient = median(rounds.map((r) => r.client.cpu));
    const tLean = median(rounds.map((r) => r.lean.t));
    const t1000 = median(rounds.map((r) => r.client1000.t));
    const [nParts, tParts] = await timed(() => ldaptsAlone(slapd, partFilters, PARTS));
    const first = rounds[0] as (typeof rounds)[number];
    const head = [
      `B2 full LDAP sync, ${ROWS} entries (slapadd ${tSlapadd.toFixed(1)} s); medians of ${ROUNDS} rounds (each: reference, ldapts alone, lean decoder, sync${BASELINE === undefined ? '' : ', the baseline sync before or after it in turn'})`,
      `  reference: ldapsearch -E pr=1000/noprompt of the same entries and attributes: ${tRef.toFixed(2)} s (rounds ${span(rounds.map((r) => r.ref))} s)`,
      `  ldapts ${LDAPTS_VERSION} alone, one search, pages of ${LDAP_PAGE_SIZE} as the sync's (entries discarded, in-process): ${tClient.toFixed(2)} s = ${(tClient / tRef).toFixed(2)}× the reference (${first.client.n} entries; rounds ${span(rounds.map((r) => r.client.t))} s); CPU ${cpuClient.toFixed(2)} s`,
      `  (extra) ldapts with Switchyard's lean entry decoder, one search, entries folded as the sync's (then discarded): ${tLean.toFixed(2)} s = ${(tLean / tRef).toFixed(2)}× the reference, ${(tLean / tClient).toFixed(2)}× ldapts alone (${first.lean.n} entries); CPU ${median(rounds.map((r) => r.lean.cpu)).toFixed(2)} s`,
      `  (extra) ldapts alone, pages of 1000 as ldapsearch's (the reference of earlier runs): ${t1000.toFixed(2)} s = ${(t1000 / tRef).toFixed(2)}× the reference`,
      `  ldapts alone, ${partFilters.length} parts (${PARTS} uSNChanged ranges + remainder) on ${PARTS} connections, once: ${tParts.toFixed(2)} s = ${(tParts / tRef).toFixed(2)}× the reference (${nParts} entries)`,
    ];
    if (CLIENT_ONLY) {
      process.stdout.write(`${head.join('\n')}\n`);
      return;
    }
    const ours = median(syncs.map((s) => s.seconds));
    const cpuSync = median(syncs.map((s) => s.cpu));
    const last = syncs[syncs.length - 1] as (typeof syncs)[number];
    const configP = configFor('bench-b2p', { by: 'filters', filters: configured, connections: PARTS });
    const oursP = await runSwitchyard(['sync', 'ad', '--full', '--json', '--config', configP], profiled(env, 'sync-parts'));
    const resultP = JSON.parse(oursP.stdout) as Out;
    const again = await runSwitchyard(['sync', 'ad', '--full', '--json', '--config', configFor('bench-b2-0')], env);
    // the baseline's second full sync of the same table (all unchanged: neither publishes), after ours
    const againBase =
      BASELINE === undefined
        ? undefined
        : await runSwitchyard(['sync', 'ad', '--full', '--json', '--config', configFor('bench-b2-0')], env, undefined, BASELINE);
    const ratios = (t: number): string =>
      `${(t / tRef).toFixed(2)}× ldapsearch (target ≤ 1.5×), ${(t / tClient).toFixed(2)}× ldapts alone one search (target ≤ 1.3×; ${(t / t1000).toFixed(2)}× with pages of 1000), ${(t / tParts).toFixed(2)}× ldapts alone in parts`;
    process.stdout.write(
      [
        ...head,
        `  switchyard sync --full, one search: ${ours.toFixed(2)} s wall (rounds ${span(syncs.map((s) => s.seconds))} s), peak RSS ${Math.max(...syncs.map((s) => s.rssMb)).toFixed(0)} MB; ${last.out.counts.objects} objects, ${last.out.counts.addresses} addresses`,
        `    ratio ${ratios(ours)}`,
        ...lines,
        `    (extra) CPU of the sync process ${cpuSync.toFixed(2)} s = ${(cpuSync / cpuClient).toFixed(2)}× the CPU of ldapts alone (start-up included; a figure the machine's load disturbs less than wall time)`,
        `    (extra) last round's ${last.threads}`,
        ...(BASELINE === undefined
          ? []
          : [
              `  baseline ${BASELINE}, sync --full before or after ours in turn: ${median(baseline.map((b) => b.seconds)).toFixed(2)} s wall (rounds ${span(baseline.map((b) => b.seconds))} s), CPU ${median(baseline.map((b) => b.cpu)).toFixed(2)} s; ours ${(ours / median(baseline.map((b) => b.seconds))).toFixed(2)}× its wall, ${(cpuSync / median(baseline.map((b) => b.cpu))).toFixed(2)}× its CPU`,
            ]),
        `  switchyard sync --full, partitions ${resultP.partitions?.searches ?? '?'} searches on ${PARTS} connections, once${resultP.partitions?.fallback ? ` (fell back: ${resultP.partitions.fallback})` : ''}: ${oursP.seconds.toFixed(2)} s wall, peak RSS ${oursP.rssMb.toFixed(0)} MB; ${resultP.counts.objects} objects, ${resultP.counts.addresses} addresses`,
        `    ratio ${ratios(oursP.seconds)}${oursP.seconds < ours ? ' (with partitions only)' : ''}`,
        `  second full sync of round 1's table, one search (all unchanged): ${again.seconds.toFixed(2)} s, peak RSS ${again.rssMb.toFixed(0)} MB${againBase !== undefined ? `; baseline ${againBase.seconds.toFixed(2)} s (${(again.seconds / againBase.seconds).toFixed(2)}×)` : ''}`,
        '',
      ].join('\n'),
    );
  } finally {
    await slapd.stop();
    await redis.stop();
  }
}

await main();
