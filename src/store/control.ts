/**
 * The control channel of a namespace (SPEC §5 "Reload"): relays and workers register with
 * a heartbeat, take reload requests from a pub/sub channel and push their answer on a list
 * per request; `switchyard reload` publishes a request and collects one answer per
 * registered process. Every key is under the namespace tag `{ns}` (src/store/keys.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Keys } from './keys.js';
import type { RedisClient } from './redis.js';

/** How often a process renews its registration, and how long one lasts without renewal. */
export const HEARTBEAT_MS = 5_000;
export const REGISTRATION_TTL_MS = 20_000;
/** How long the answers to one request are kept. */
const REPLIES_TTL_MS = 60_000;

export interface ReloadAnswer {
  /** `<role> <host>:<pid>`, as registered. */
  readonly process: string;
  readonly outcome: 'reloaded' | 'refused' | 'no answer';
  readonly reason?: string;
}

export interface ControlMember {
  /** Leaves the namespace's process list and stops listening. */
  stop(): Promise<void>;
}

export interface JoinOptions {
  /** For the heartbeat and the answers. */
  readonly redis: RedisClient;
  /** A connection of its own, put in subscriber mode. */
  readonly subscriber: RedisClient;
  readonly keys: Keys;
  /** `<role> <host>:<pid>`. */
  readonly name: string;
  readonly onReload: () => Promise<{ ok: boolean; reason?: string }>;
  readonly onError: (err: unknown) => void;
}

export async function joinControl(o: JoinOptions): Promise<ControlMember> {
  const { redis, keys } = o;
  o.subscriber.on('message', (channel: string, text: string) => {
    if (channel !== keys.reloadChannel) return;
    let request: unknown;
    try {
      request = (JSON.parse(text) as { request?: unknown }).request;
    } catch {
      return;
    }
    if (typeof request !== 'string' || !/^[0-9a-f]{16,64}$/.test(request)) return;
    void o
      .onReload()
      .then(async (answer) => {
        const key = keys.reloadReplies(request);
        await redis.rpush(key, JSON.stringify({ process: o.name, ...answer }));
        await redis.pexpire(key, REPLIES_TTL_MS);
      })
      .catch(o.onError);
  });
  // listening first, then registered: a request that counts on this process reaches it
  await o.subscriber.subscribe(keys.reloadChannel);
  const beat = (): Promise<unknown> => redis.zadd(keys.processes, Date.now() + REGISTRATION_TTL_MS, o.name);
  await beat();
  const timer = setInterval(() => void beat().catch(o.onError), HEARTBEAT_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await redis.zrem(keys.processes, o.name).catch(o.onError);
      await o.subscriber.unsubscribe(keys.reloadChannel).catch(() => undefined);
    },
  };
}

/** The processes registered now (expired registrations are dropped first). */
export async function registeredProcesses(redis: RedisClient, keys: Keys, now = Date.now()): Promise<string[]> {
  await redis.zremrangebyscore(keys.processes, '-inf', now);
  return redis.zrange(keys.processes, 0, -1);
}

/**
 * Asks every registered process to reload and waits up to `timeoutMs` for their answers.
 * `redis` must allow blocking commands (no command timeout shorter than `timeoutMs`).
 */
export async function requestReload(redis: RedisClient, keys: Keys, timeoutMs: number): Promise<ReloadAnswer[]> {
  const expected = await registeredProcesses(redis, keys);
  if (expected.length === 0) return [];
  const request = randomBytes(12).toString('hex');
  const key = keys.reloadReplies(request);
  await redis.publish(keys.reloadChannel, JSON.stringify({ request }));
  const answers = new Map<string, ReloadAnswer>();
  const deadline = Date.now() + timeoutMs;
  while (expected.some((p) => !answers.has(p)) && Date.now() < deadline) {
    const seconds = Math.max(0.01, (deadline - Date.now()) / 1000);
    const popped = await redis.blpop(key, seconds);
    if (popped === null) break;
    const a = JSON.parse(popped[1]) as { process: string; ok: boolean; reason?: string };
    answers.set(a.process, {
      process: a.process,
      outcome: a.ok ? 'reloaded' : 'refused',
      ...(a.reason !== undefined ? { reason: a.reason } : {}),
    });
  }
  await redis.del(key);
  const missing = expected.filter((p) => !answers.has(p)).map((p): ReloadAnswer => ({ process: p, outcome: 'no answer' }));
  return [...answers.values(), ...missing].sort((a, b) => a.process.localeCompare(b.process));
}
