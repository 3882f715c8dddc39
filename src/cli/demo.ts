/**
 * `switchyard demo` (the README's main-job command): on an embedded default — a private
 * redis-server unless REDIS_URL is set — import the demo organisation's two Csvde
 * exports, then show how the relay would route a few recipients.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { startRedis, type EmbeddedRedis } from '../main/embedded-redis.js';
import { projectRoot } from '../main/paths.js';
import { importCsvde } from '../pipeline/import-csvde.js';
import { createResolver } from '../resolver/resolver.js';
import { routingContext } from '../routing/decide.js';
import { createKeys } from '../store/keys.js';
import { connected, createRedis } from '../store/redis.js';
import { listConflicts } from '../store/status.js';
import { formatConflict, formatDecision, formatPublish } from './format.js';

const SAMPLES: [string, boolean][] = [
  ['Ada.Lovelace@contoso.edu', false],
  ['kofi.lovelace@contoso.edu', false],
  ['s100007@contoso.edu', false],
  ['internetuser@xo.one', false],
  ['helpdesk@contoso.edu', false],
  ['nobody@contoso.edu', false],
  ['nobody@chem.lab.contoso.edu', false],
  ['someone@live.contoso.edu', false],
  ['friend@example.org', false],
  ['friend@example.org', true],
  ['not an address', false],
];

export async function demoCommand(): Promise<number> {
  const root = projectRoot();
  let embedded: EmbeddedRedis | undefined;
  let dir: string | undefined;
  const env = { ...process.env };
  if (!env.REDIS_URL) {
    dir = mkdtempSync(join(tmpdir(), 'switchyard-demo-'));
    embedded = await startRedis({ dir });
    env.REDIS_URL = embedded.url;
    process.stdout.write(`private redis-server on ${embedded.url} (set REDIS_URL to use your own)\n\n`);
  }
  const config = loadConfig(join(root, 'fixtures', 'demo', 'switchyard.yaml'), env);
  const redis = createRedis(config.redis, 'worker', env);
  try {
    await connected(redis);
    const keys = createKeys(config.redis.namespace);
    for (const source of config.sources) {
      if (source.type !== 'csvde' || !source.path) continue;
      const result = await importCsvde({ redis, keys, versionsKept: config.table.versionsKept }, source, join(root, source.path), {});
      process.stdout.write(`${formatPublish(result)}\n\n`);
    }
    process.stdout.write('conflicts:\n');
    for (const c of await listConflicts(redis, keys)) process.stdout.write(`  ${formatConflict(c)}\n`);
    process.stdout.write('\nrouting decisions (switchyard resolve):\n');
    const resolver = createResolver({ redis, keys, context: routingContext(config) });
    for (const [address, trusted] of SAMPLES) {
      const [d] = await resolver.resolve([address], trusted);
      if (d) process.stdout.write(`  ${trusted ? '(trusted) ' : ''}${formatDecision(d)}\n`);
    }
    return 0;
  } finally {
    await redis.quit().catch(() => redis.disconnect());
    await embedded?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
