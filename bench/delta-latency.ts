/**
 * B5 (SPEC §8): directory change → relay decision changes. A private directory and Redis,
 * a `switchyard worker` process with `deltaSchedule: "* * * * * *"`; each round changes one
 * recipient's target with ldapmodify and polls the routing decision (the relay's lookup
 * path) until it shows the new target. Two directories, measured in turn:
 *   - slapd with the plain OpenLDAP mapping (modifyTimestamp deltas);
 *   - a real Samba AD DC (uSNChanged deltas) — needs root; said so and skipped otherwise.
 *
 *   npm run bench:delta [-- --rounds 5]
 * Target: ≤ 5 s.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'ldapts';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { startRedis } from '../src/main/embedded-redis.js';
import { AD_BASE, AD_SERVICE_DN, startSamba } from '../testkit/embedded-samba.js';
import { ADMIN_DN, SERVICE_DN, startSlapd } from '../testkit/embedded-slapd.js';
import { projectRoot } from '../src/main/paths.js';
import { createResolver } from '../src/resolver/resolver.js';
import { routingContext } from '../src/routing/decide.js';
import { createKeys } from '../src/store/keys.js';
import { createRedis } from '../src/store/redis.js';
import { run } from './lib.js';

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 5;
const root = projectRoot();

interface Directory {
  readonly label: string;
  readonly source: Record<string, unknown>;
  readonly password: string;
  readonly probe: string;
  /** Changes the probe's target to `target` (an LDIF replace through ldapmodify). */
  change(target: string, ldifFile: string): Promise<void>;
  stop(): Promise<void>;
}

async function ldapmodify(
  url: string,
  dn: string,
  password: string,
  ldif: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  writeFileSync(file, ldif);
  const r = await run('ldapmodify', ['-x', '-H', url, '-D', dn, '-w', password, '-f', file], { env });
  if (r.code !== 0) throw new Error(`ldapmodify failed: ${r.stderr}`);
}

async function slapdDirectory(dir: string): Promise<Directory> {
  const slapd = await startSlapd({ dir, ldif: [join(root, 'fixtures', 'ldap', 'plain.ldif')] });
  return {
    label: 'slapd, plain OpenLDAP mapping, modifyTimestamp deltas',
    source: {
      type: 'ldap',
      mapping: 'openldap',
      url: slapd.ldapUrl,
      startTls: true,
      caFile: slapd.caFile,
      bindDn: SERVICE_DN,
      baseDn: 'ou=People,dc=contoso,dc=edu',
    },
    password: slapd.servicePassword,
    probe: 'alan.turing@contoso.edu',
    change: (target, file) =>
      ldapmodify(
        slapd.ldapUrl,
        ADMIN_DN,
        slapd.adminPassword,
        `dn: uid=alan,ou=People,dc=contoso,dc=edu\nchangetype: modify\nreplace: mailRoutingAddress\nmailRoutingAddress: ${target}\n`,
        file,
      ),
    stop: () => slapd.stop(),
  };
}

async function sambaDirectory(dir: string): Promise<Directory> {
  const dc = await startSamba(dir);
  const dn = `CN=Bench User,CN=Users,${AD_BASE}`;
  const admin = new Client({ url: dc.ldapsUrl, tlsOptions: { ca: [readFileSync(dc.caFile)] } });
  await admin.bind(dc.adminDn, dc.adminPassword);
  await admin.add(dn, {
    objectClass: 'user',
    sAMAccountName: 'benchuser',
    proxyAddresses: ['SMTP:bench.user@contoso.edu'],
    targetAddress: 'SMTP:bench.user@live.contoso.edu',
  });
  await admin.unbind();
  const env = { ...process.env, LDAPTLS_CACERT: dc.caFile };
  return {
    label: 'Samba AD DC, uSNChanged deltas',
    source: { type: 'ldap', url: dc.ldapsUrl, caFile: dc.caFile, bindDn: AD_SERVICE_DN, baseDn: AD_BASE },
    password: dc.servicePassword,
    probe: 'bench.user@contoso.edu',
    change: (target, file) =>
      ldapmodify(
        dc.ldapsUrl,
        dc.adminDn,
        dc.adminPassword,
        `dn: ${dn}\nchangetype: modify\nreplace: targetAddress\ntargetAddress: SMTP:${target}\n`,
        file,
        env,
      ),
    stop: () => dc.stop(),
  };
}

async function measure(directory: Directory, dir: string): Promise<number[]> {
  const redis = await startRedis({ dir: join(dir, 'redis') });
  const configFile = join(dir, 'b5.yaml');
  writeFileSync(
    configFile,
    stringify({
      redis: { url: redis.url, namespace: 'bench-b5' },
      domains: [{ name: 'contoso.edu', type: 'authoritative' }],
      connectors: [
        { name: 'onprem', smartHosts: ['127.0.0.1:25'] },
        { name: 'internet', addressSpaces: ['*'], smartHosts: ['127.0.0.1:26'] },
      ],
      sources: [
        { name: 'dir', ...directory.source, bindPasswordEnv: 'B5_PASSWORD', mailboxConnector: 'onprem', deltaSchedule: '* * * * * *' },
      ],
    }),
  );
  const env = { ...process.env, B5_PASSWORD: directory.password, REDIS_URL: '' };
  const bin = join(root, 'bin', 'switchyard.js');
  const first = await run(process.execPath, [bin, 'sync', 'dir', '--full', '--config', configFile], { env });
  if (first.code !== 0) throw new Error(`initial full sync failed: ${first.stderr}`);
  const worker = spawn(process.execPath, [bin, 'worker', '--config', configFile], { env: { ...env, LOG_LEVEL: 'warn' }, stdio: 'inherit' });
  const config = loadConfig(configFile, env);
  const client = createRedis(config.redis, 'lookup', env);
  const resolver = createResolver({ redis: client, keys: createKeys(config.redis.namespace), context: routingContext(config) });
  const latencies: number[] = [];
  try {
    await new Promise((r) => setTimeout(r, 1500)); // worker up
    for (let i = 0; i < ROUNDS; i++) {
      const target = `moved.r${i}@elsewhere.example`;
      const started = performance.now();
      await directory.change(target, join(dir, `change-${i}.ldif`));
      for (;;) {
        const [d] = await resolver.resolve([directory.probe], false);
        if (d?.recipient === target) break;
        if (performance.now() - started > 30_000) throw new Error('no change after 30 s');
        await new Promise((r) => setTimeout(r, 20));
      }
      latencies.push((performance.now() - started) / 1000);
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 700)); // changes at varied points of the schedule
    }
  } finally {
    worker.kill('SIGTERM');
    client.disconnect();
    await redis.stop();
  }
  return latencies;
}

function report(label: string, latencies: number[]): string {
  const sorted = [...latencies].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  const max = sorted[sorted.length - 1] ?? NaN;
  return [
    `B5 directory change → decision, ${label}, deltaSchedule every second, ${latencies.length} rounds`,
    `  each: ${latencies.map((l) => l.toFixed(2)).join(' s, ')} s`,
    `  median ${median.toFixed(2)} s, max ${max.toFixed(2)} s (target ≤ 5 s): ${max <= 5 ? 'within' : 'OVER'}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const base = join(root, 'bench', 'data', 'b5');
  rmSync(base, { recursive: true, force: true });
  const makers: [string, (dir: string) => Promise<Directory>][] = [['slapd', slapdDirectory]];
  if (process.getuid?.() === 0) makers.push(['samba', sambaDirectory]);
  else process.stdout.write('B5 on Samba AD skipped: starting the test domain controller needs root\n');
  for (const [name, make] of makers) {
    const dir = join(base, name);
    mkdirSync(dir, { recursive: true });
    const directory = await make(join(dir, 'directory'));
    try {
      process.stdout.write(`${report(directory.label, await measure(directory, dir))}\n`);
    } finally {
      await directory.stop();
    }
  }
}

await main();
