/**
 * What a reload would change (SPEC §5 "Reload"): the keys whose value differs between the
 * running configuration and the file just read, and those of them a running process cannot
 * take on (its listeners and its Redis connections), which make the reload refused.
 */
import type { Config } from './schema.js';

/** Keys a process binds or connects with at start: changing one needs a restart. */
const RESTART_KEYS = ['relay.listen', 'relay.processes', 'redis', 'admin.listen', 'queue.shards'] as const;

/** Sections compared key by key (a change names `relay.maxRecipients`, not `relay`). */
const BY_KEY = new Set(['relay', 'admin', 'table', 'queue']);

export interface ConfigChanges {
  /** Changed keys, in config order (`domains`, `relay.trustedNetworks`, …). */
  readonly changed: readonly string[];
  /** The changed keys that need a restart; a reload with any of them is refused. */
  readonly restartRequired: readonly string[];
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export function configChanges(running: Config, next: Config): ConfigChanges {
  const changed: string[] = [];
  const sections = new Set([...Object.keys(running), ...Object.keys(next)]);
  for (const section of sections) {
    const a = (running as Record<string, unknown>)[section];
    const b = (next as Record<string, unknown>)[section];
    if (same(a, b)) continue;
    if (!BY_KEY.has(section)) {
      changed.push(section);
      continue;
    }
    const ra = (a ?? {}) as Record<string, unknown>;
    const rb = (b ?? {}) as Record<string, unknown>;
    for (const key of new Set([...Object.keys(ra), ...Object.keys(rb)])) {
      if (!same(ra[key], rb[key])) changed.push(`${section}.${key}`);
    }
  }
  const restartRequired = changed.filter((k) => (RESTART_KEYS as readonly string[]).includes(k));
  return { changed, restartRequired };
}
