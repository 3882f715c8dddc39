/**
 * Reload without a restart (SPEC §5): on SIGHUP, or a `switchyard reload` request on the
 * namespace's control channel, re-read the configuration file the process started with,
 * validate it, refuse a change that needs a restart, and hand the new configuration to the
 * process's parts (relay, worker) for new sessions, deliveries and jobs.
 */
import { hostname } from 'node:os';
import { recordAudit } from '../audit/log.js';
import { configChanges } from '../config/changes.js';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { joinControl, type ControlMember } from '../store/control.js';
import { createKeys } from '../store/keys.js';
import { createRedis } from '../store/redis.js';

export interface ReloadTarget {
  /** Throws, changing nothing, when the configuration cannot be applied. */
  reconfigure(config: Config): void | Promise<void>;
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly reason?: string;
  readonly changed?: readonly string[];
}

export interface Reloader {
  /** Re-reads and applies the file now (what SIGHUP does). */
  reload(): Promise<ReloadResult>;
  stop(): Promise<void>;
}

export interface ReloaderOptions {
  /** `relay`, `worker` or `up`: how `switchyard reload` names this process. */
  readonly role: string;
  readonly file: string;
  readonly config: Config;
  readonly log: Logger;
  readonly env?: NodeJS.ProcessEnv;
  readonly targets: readonly ReloadTarget[];
}

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n').join('; ');

export async function startReloader(o: ReloaderOptions): Promise<Reloader> {
  const env = o.env ?? process.env;
  const { log } = o;
  let running = o.config;
  let queue: Promise<unknown> = Promise.resolve();

  async function apply(): Promise<ReloadResult> {
    let next: Config;
    try {
      next = loadConfig(o.file, env); // same path and REDIS_URL override as at start
    } catch (err) {
      const reason = firstLine(err);
      log.error(
        { event: 'SY_RELOAD_REFUSED', file: o.file, err: reason },
        'reload refused: the configuration is invalid; running configuration kept',
      );
      return { ok: false, reason };
    }
    const { changed, restartRequired } = configChanges(running, next);
    if (restartRequired.length > 0) {
      const reason = `restart required: ${restartRequired.join(', ')} changed`;
      log.error({ event: 'SY_RELOAD_REFUSED', file: o.file, err: reason }, 'reload refused; running configuration kept');
      return { ok: false, reason };
    }
    try {
      for (const t of o.targets) await t.reconfigure(next);
    } catch (err) {
      const reason = firstLine(err);
      log.error({ event: 'SY_RELOAD_REFUSED', file: o.file, err: reason }, 'reload refused; running configuration kept');
      return { ok: false, reason };
    }
    running = next;
    log.info({ event: 'SY_RELOADED', file: o.file, changed }, 'configuration reloaded');
    return { ok: true, changed };
  }

  /** One reload at a time: a SIGHUP during a `switchyard reload` waits for it. */
  const reload = (): Promise<ReloadResult> => {
    const result = queue.then(apply);
    queue = result.catch(() => undefined);
    return result;
  };

  const keys = createKeys(o.config.redis.namespace);
  const redis = createRedis(o.config.redis, 'worker', env);
  // a SIGHUP is an operator action too (SPEC §11); who sent the signal cannot be known
  const onHup = (): void =>
    void reload().then((r) =>
      recordAudit(redis, keys, running.audit.maxEntries, {
        who: `signal:SIGHUP ${o.role} ${hostname()}:${process.pid}`,
        action: 'reload',
        what: o.file,
        result: r.ok ? `reloaded: ${r.changed?.join(', ') || 'nothing changed'}` : `refused: ${r.reason ?? '?'}`,
      }).catch((err: unknown) => log.warn({ event: 'SY_CONTROL_ERROR', err: firstLine(err) }, 'audit entry of a reload not written')),
    );
  process.on('SIGHUP', onHup);

  const subscriber = createRedis(o.config.redis, 'worker', env);
  const onError = (err: unknown): void => log.warn({ event: 'SY_CONTROL_ERROR', err: firstLine(err) }, 'control channel error');
  for (const r of [redis, subscriber]) r.on('error', () => undefined); // reported per command
  let member: ControlMember;
  try {
    member = await joinControl({
      redis,
      subscriber,
      keys,
      name: `${o.role} ${hostname()}:${process.pid}`,
      onReload: async () => {
        const r = await reload();
        return r.ok ? { ok: true } : { ok: false, reason: r.reason ?? 'refused' };
      },
      onError,
    });
  } catch (err) {
    process.off('SIGHUP', onHup);
    redis.disconnect();
    subscriber.disconnect();
    throw err;
  }

  return {
    reload,
    async stop() {
      process.off('SIGHUP', onHup);
      await member.stop();
      await queue;
      for (const r of [subscriber, redis]) await r.quit().catch(() => r.disconnect());
    },
  };
}
