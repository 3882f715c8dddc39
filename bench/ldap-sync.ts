/**
 * B2 (SPEC §8): full LDAP sync of 100,000 entries from a local slapd (bulk-loaded with
 * slapadd), against the reference in the same run: `ldapsearch -E pr=1000/noprompt`
 * dumping the same entries and attributes over the same connection type.
 *
 *   npm run bench:ldap [-- --rows 100000]
 * Target: ≤ 1.5× the reference.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { stringify } from 'yaml';
import { startRedis } from '../src/main/embedded-redis.js';
import { SERVICE_DN, startSlapd } from '../testkit/embedded-slapd.js';
import { projectRoot } from '../src/main/paths.js';
import { adMapping, searchFilter } from '../src/directory/ldap/mapping.js';
import { writeGeneratedLdif } from './generate-ldif.js';
import { run, runSwitchyard, timed } from './lib.js';

const rowsArg = process.argv.indexOf('--rows');
const ROWS = rowsArg > 0 ? Number(process.argv[rowsArg + 1]) : 100_000;
const dataDir = join(projectRoot(), 'bench', 'data');
const ldif = join(dataDir, `b2-${ROWS}.ldif`);

async function main(): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
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
    const [, tClient] = await timed(async () => {
      const client = new Client({ url: slapd.ldapUrl });
      await client.startTLS({ ca: [readFileSync(slapd.caFile)] });
      await client.bind(SERVICE_DN, slapd.servicePassword);
      let n = 0;
      const pages = client.searchPaginated('dc=contoso,dc=edu', {
        scope: 'sub',
        filter,
        attributes: [...adMapping.attributes],
        explicitBufferAttributes: [...adMapping.binary],
        paged: { pageSize: 1000 },
      });
      for await (const page of pages) n += page.searchEntries.length;
      await client.unbind();
      return n;
    });

    const config = join(dataDir, 'b2.yaml');
    writeFileSync(
      config,
      stringify({
        redis: { url: redis.url, namespace: 'bench-b2' },
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
          },
        ],
      }),
    );
    const env = { ...process.env, B2_LDAP_PASSWORD: slapd.servicePassword, REDIS_URL: '' };
    const ours = await runSwitchyard(['sync', 'ad', '--full', '--json', '--config', config], env);
    const result = JSON.parse(ours.stdout) as { version: number; counts: { objects: number; addresses: number } };
    const again = await runSwitchyard(['sync', 'ad', '--full', '--json', '--config', config], env);
    process.stdout.write(
      [
        `B2 full LDAP sync, ${ROWS} entries (slapadd ${tSlapadd.toFixed(1)} s), ${result.counts.objects} objects, ${result.counts.addresses} addresses, table version ${result.version}`,
        `  reference: ldapsearch -E pr=1000/noprompt of the same entries and attributes: ${tRef.toFixed(2)} s`,
        `  ldapts alone (same paged search, entries discarded, in-process): ${tClient.toFixed(2)} s = ${(tClient / tRef).toFixed(2)}× the reference`,
        `  switchyard sync --full: ${ours.seconds.toFixed(2)} s wall, peak RSS ${ours.rssMb.toFixed(0)} MB`,
        `  ratio ${(ours.seconds / tRef).toFixed(2)}× the reference (target ≤ 1.5×)`,
        `  second full sync (all unchanged): ${again.seconds.toFixed(2)} s, peak RSS ${again.rssMb.toFixed(0)} MB`,
        '',
      ].join('\n'),
    );
  } finally {
    await slapd.stop();
    await redis.stop();
  }
}

await main();
