/**
 * The Lua scripts of src/store/lua, loaded once and run by SHA (falling back to EVAL
 * after a Redis restart flushed the script cache). They sit beside this module: in src/
 * (tsx, vitest) and in dist/src/store/ (the build copies them, see package.json `build`).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { corkForTurn } from './coalesce.js';
import { sendEncoded } from './encoded-command.js';
import type { RedisClient } from './redis.js';

export interface Script {
  readonly name: string;
  /** Fixed key count (from the file name `name-N.lua`), or undefined: variable, as the script's header says. */
  readonly keyCount: number | undefined;
  readonly source: string;
  readonly sha: string;
}

const LUA_DIR = new URL('./lua/', import.meta.url);

/** `name-N` has N keys; a name without a count takes a variable number, documented in its header. */
function load(name: string): Script {
  const m = /-(\d+)$/.exec(name);
  const source = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
  return { name, keyCount: m?.[1] ? Number(m[1]) : undefined, source, sha: createHash('sha1').update(source).digest('hex') };
}

export const scripts = {
  stage: load('stage'),
  applyDelta: load('apply-delta'),
  lookup: load('lookup'),
  targetLookup: load('target-lookup'),
  publish: load('publish'),
  rollback: load('rollback'),
  mqClaim: load('mq-claim-2'),
  mqFinish: load('mq-finish-7'),
  mqReserve: load('mq-reserve-3'),
  mqPut: load('mq-put'),
  mqCommit: load('mq-commit-4'),
  mqCancel: load('mq-cancel'),
  mqRetry: load('mq-retry-4'),
  mqControl: load('mq-control-4'),
  mqAdopt: load('mq-adopt-5'),
  mqRename: load('mq-rename-6'),
  traceWrite: load('trace-write'),
} as const;

export async function runScript(
  redis: RedisClient,
  script: Script,
  keys: readonly string[],
  args: readonly (string | number | Buffer)[],
): Promise<unknown> {
  if (script.keyCount !== undefined && keys.length !== script.keyCount) {
    throw new Error(`${script.name}: expected ${script.keyCount} keys, got ${keys.length}`);
  }
  corkForTurn(redis); // a relay connection: this turn's scripts share one write (coalesce.ts)
  try {
    return await sendEncoded(redis, 'evalsha', [script.sha, keys.length, ...keys, ...args]);
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
      return sendEncoded(redis, 'eval', [script.source, keys.length, ...keys, ...args]);
    }
    throw err;
  }
}
