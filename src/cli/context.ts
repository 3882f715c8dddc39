/** What every command needs: the validated config, a Redis client and the key names. */
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { createKeys, type Keys } from '../store/keys.js';
import { connected, createRedis, type RedisClient, type RedisProfile } from '../store/redis.js';

export interface Context {
  readonly config: Config;
  readonly redis: RedisClient;
  readonly keys: Keys;
  close(): Promise<void>;
}

export interface ContextOptions {
  readonly configPath: string;
  readonly profile?: RedisProfile;
  /** When false, a Redis that cannot be reached is not an error here (resolve answers 451). */
  readonly requireRedis?: boolean;
}

export async function openContext(opts: ContextOptions): Promise<Context> {
  const config = loadConfig(opts.configPath);
  const redis = createRedis(config.redis, opts.profile ?? 'lookup');
  redis.on('error', () => undefined); // surfaced by the commands themselves
  try {
    await connected(redis, 3000, true);
  } catch (err) {
    if (opts.requireRedis !== false) {
      redis.disconnect();
      throw new Error(`Redis unreachable (${config.redis.url ?? 'configured servers'}): ${(err as Error).message}`);
    }
  }
  return {
    config,
    redis,
    keys: createKeys(config.redis.namespace),
    async close() {
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
    },
  };
}

export async function withContext<T>(opts: ContextOptions, fn: (ctx: Context) => Promise<T>): Promise<T> {
  const ctx = await openContext(opts);
  try {
    return await fn(ctx);
  } finally {
    await ctx.close();
  }
}
