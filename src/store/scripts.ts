/**
 * The Lua scripts of src/store/lua, loaded once and run by SHA (falling back to EVAL
 * after a Redis restart flushed the script cache).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../main/paths.js';
import type { RedisClient } from './redis.js';

export interface Script {
  readonly name: string;
  readonly keyCount: number;
  readonly source: string;
  readonly sha: string;
}

function luaDir(): string {
  return join(projectRoot(), 'src', 'store', 'lua');
}

function load(name: string): Script {
  const m = /-(\d+)$/.exec(name);
  if (!m?.[1]) throw new Error(`script ${name} has no key count in its name`);
  const source = readFileSync(join(luaDir(), `${name}.lua`), 'utf8');
  return { name, keyCount: Number(m[1]), source, sha: createHash('sha1').update(source).digest('hex') };
}

export const scripts = {
  stage: load('stage-8'),
  applyDelta: load('apply-delta-7'),
  lookup: load('lookup-1'),
  publish: load('publish-3'),
  rollback: load('rollback-3'),
  mqClaim: load('mq-claim-2'),
  mqFinish: load('mq-finish-5'),
  mqRetry: load('mq-retry-4'),
  mqControl: load('mq-control-4'),
  mqAdopt: load('mq-adopt-5'),
} as const;

export async function runScript(
  redis: RedisClient,
  script: Script,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  if (keys.length !== script.keyCount) throw new Error(`${script.name}: expected ${script.keyCount} keys, got ${keys.length}`);
  try {
    return await redis.evalsha(script.sha, script.keyCount, ...keys, ...args);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
      return redis.eval(script.source, script.keyCount, ...keys, ...args);
    }
    throw err;
  }
}
