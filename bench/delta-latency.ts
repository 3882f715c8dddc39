/**
 * B5 (SPEC §8): directory change → relay decision changes. A private slapd (plain
 * OpenLDAP mapping, modifyTimestamp deltas) and Redis, a `switchyard worker` process with
 * `deltaSchedule: "* * * * * *"`; each round changes one recipient's mailRoutingAddress
 * with ldapmodify and polls the routing decision (the relay's lookup path) until it shows
 * the new target. Target: ≤ 5 s.
 *
 *   npm run bench:delta [-- --rounds 5]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { startRedis } from '../src/main/embedded-redis.js';
import { ADMIN_DN, SERVICE_DN, startSlapd } from '../src/main/embedded-slapd.js';
import { projectRoot } from '../src/main/paths.js';
import { createResolver } from '../src/resolver/resolver.js';
import { routingContext } from '../src/routing/decide.js';
import { createKeys } from '../src/store/keys.js';
import { createRedis } from '../src/store/redis.js';
import { run } from './lib.js';

const roundsArg = process.argv.indexOf('--rounds');
const ROUNDS = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 5;
const root = projectRoot();
const dir = join(root, 'bench', 'data', 'b5');

async function main(): Promise<void> {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const slapd = await startSlapd({ dir: join(dir, 'slapd'), ldif: [join(root, 'fixtures', 'ldap', 'plain.ldif')] });
  const redis = await startRedis({ dir: join(dir, 'redis') });
  const configFile = join(dir, 'b5.yaml');
  writeFileSync(configFile, stringify({
    redis: { url: redis.url, namespace: 'bench-b5' },
    domains: [{ name: 'contoso.edu', type: 'authoritative' }],
    connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:25'] }, { name: 'internet', addressSpaces: ['*'], smartHosts: ['127.0.0.1:26'] }],
    sources: [{ name: 'people', type: 'ldap', mapping: 'openldap', url: slapd.ldapUrl, bindDn: SERVICE_DN, bindPasswordEnv: 'B5_PASSWORD', baseDn: 'ou=People,dc=contoso,dc=edu', mailboxConnector: 'onprem', deltaSchedule: '* * * * * *' }],
  }));
  const env = { ...process.env, B5_PASSWORD: slapd.servicePassword, REDIS_URL: '' };
  const bin = join(root, 'bin', 'switchyard.js');
  const first = await run(process.execPath, [bin, 'sync', 'people', '--full', '--config', configFile], { env });
  if (first.code !== 0) throw new Error(`initial full sync failed: ${first.stderr}`);
  const worker = spawn(process.execPath, [bin, 'worker', '--config', configFile], { env: { ...env, LOG_LEVEL: 'warn' }, stdio: 'inherit' });
  const config = loadConfig(configFile, env);
  const client = createRedis(config.redis, 'lookup', env);
  const resolver = createResolver({ redis: client, keys: createKeys(config.redis.namespace), context: routingContext(config) });
  const latencies: number[] = [];
  try {
    await new Promise((r) => setTimeout(r, 1500)); // worker up
    for (let i = 0; i < ROUNDS; i++) {
      const target = `alan.r${i}@elsewhere.example`;
      const ldif = join(dir, `change-${i}.ldif`);
      writeFileSync(ldif, `dn: uid=alan,ou=People,dc=contoso,dc=edu\nchangetype: modify\nreplace: mailRoutingAddress\nmailRoutingAddress: ${target}\n`);
      const started = performance.now();
      const mod = await run('ldapmodify', ['-x', '-H', slapd.ldapUrl, '-D', ADMIN_DN, '-w', slapd.adminPassword, '-f', ldif]);
      if (mod.code !== 0) throw new Error(`ldapmodify failed: ${mod.stderr}`);
      for (;;) {
        const [d] = await resolver.resolve(['alan.turing@contoso.edu'], false);
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
    await slapd.stop();
    await redis.stop();
  }
  const sorted = [...latencies].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)] ?? NaN;
  const max = sorted[sorted.length - 1] ?? NaN;
  process.stdout.write([
    `B5 directory change → decision, ${ROUNDS} rounds, deltaSchedule every second (generic modifyTimestamp delta on slapd)`,
    `  each: ${latencies.map((l) => l.toFixed(2)).join(' s, ')} s`,
    `  median ${median.toFixed(2)} s, max ${max.toFixed(2)} s (target ≤ 5 s): ${max <= 5 ? 'within' : 'OVER'}`,
    '',
  ].join('\n'));
}

await main();
