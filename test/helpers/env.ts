/**
 * Per-test isolation on the shared Redis: a random namespace (hash tag) per test file or
 * test, a config built from the demo fixture pointed at it, and cleanup of every key of
 * that namespace afterwards (never FLUSHALL: other test files share the server).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { stringify } from 'yaml';
import { Redis } from 'ioredis';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createKeys, type Keys } from '../../src/store/keys.js';
import type { PublishDeps } from '../../src/pipeline/types.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');
export const csvFixture = (name: string): string => join(FIXTURES, 'csvde', name);

/** The demo organisation's configuration, as a plain object to adjust per test. */
export function demoConfigObject(namespace: string, redisUrl: string): Record<string, unknown> {
  return {
    redis: { url: redisUrl, namespace },
    domains: [
      { name: 'contoso.edu', type: 'internalRelay', nextHop: 'legacy' },
      { name: 'live.contoso.edu', type: 'externalRelay', connector: 'cloud' },
      { name: '*.lab.contoso.edu', type: 'authoritative' },
      { name: 'students.contoso.edu', type: 'authoritative' },
      { name: 'xo.one', type: 'authoritative' },
    ],
    connectors: [
      { name: 'onprem', smartHosts: ['127.0.0.1:2601'], tls: 'none' },
      { name: 'cloud', addressSpaces: ['live.contoso.edu'], smartHosts: ['127.0.0.1:2602'], tls: 'none' },
      { name: 'legacy', smartHosts: ['127.0.0.1:2603'], tls: 'none' },
      { name: 'internet', addressSpaces: ['*'], smartHosts: ['127.0.0.1:2604'], tls: 'none' },
    ],
    sources: [
      { name: 'corp', type: 'csvde', mailboxConnector: 'onprem', priority: 10 },
      { name: 'students', type: 'csvde', mailboxConnector: 'cloud', priority: 5 },
    ],
  };
}

/**
 * Keeps only the named configured sources: a test that publishes only `corp` configures
 * only `corp`, so its table is complete (SPEC §3.2) and may answer 550 5.1.1.
 */
export const onlySources =
  (...names: string[]) =>
  (raw: Record<string, unknown>): void => {
    raw.sources = (raw.sources as { name: string }[]).filter((s) => names.includes(s.name));
  };

export interface TestEnv {
  readonly namespace: string;
  readonly redisUrl: string;
  readonly config: Config;
  readonly configFile: string;
  readonly redis: Redis;
  readonly keys: Keys;
  readonly deps: PublishDeps;
  source(name: string): Config['sources'][number];
  /** Deletes every key of this namespace (the suite shares one Redis: never FLUSHALL). */
  clear(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function testEnv(adjust?: (raw: Record<string, unknown>) => void, redisUrl = inject('redisUrl')): Promise<TestEnv> {
  const namespace = `t-${randomBytes(6).toString('hex')}`;
  const raw = demoConfigObject(namespace, redisUrl);
  adjust?.(raw);
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-test-'));
  const configFile = join(dir, 'switchyard.yaml');
  writeFileSync(configFile, stringify(raw));
  const config = parseConfig(raw, configFile, {});
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  redis.on('error', () => undefined); // fault tests stop Redis on purpose; commands still fail loudly
  await redis.ping(); // the suite's Redis must be there: fail here, not in the first assertion
  const keys = createKeys(namespace);
  const clear = async (): Promise<void> => {
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `{${namespace}[:}]*`, 'COUNT', 1000);
      cursor = next;
      if (found.length > 0) await redis.unlink(...found);
    } while (cursor !== '0');
  };
  return {
    namespace,
    redisUrl,
    config,
    configFile,
    redis,
    keys,
    deps: { redis, keys, versionsKept: config.table.versionsKept },
    source(name) {
      const s = config.sources.find((x) => x.name === name);
      if (!s) throw new Error(`no source ${name}`);
      return s;
    },
    clear,
    async cleanup() {
      await clear();
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
