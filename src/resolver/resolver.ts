/**
 * Resolves envelope recipients against the live table: the pure decision of
 * src/routing/decide.ts plus one lookup round trip for all recipients that need it.
 */
import { classify, decide, type Classified, type Decision, type RoutingContext } from '../routing/decide.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { lookup } from '../store/table.js';

export interface Resolver {
  resolve(addresses: readonly string[], trusted: boolean): Promise<Decision[]>;
  /** Domains, connectors and sources of a reloaded configuration, for the next decisions. */
  setContext(context: RoutingContext): void;
}

export function createResolver(deps: { redis: RedisClient; keys: Keys; context: RoutingContext }): Resolver {
  let context = deps.context;
  return {
    setContext(next) {
      context = next;
    },
    async resolve(addresses, trusted) {
      const ctx = context; // one context for the whole call, even if a reload lands meanwhile
      const classified = addresses.map((a) => classify(a, ctx, trusted));
      const pending = classified.filter((c): c is Extract<Classified, { kind: 'lookup' }> => c.kind === 'lookup');
      const results =
        pending.length > 0
          ? await lookup(
              deps.redis,
              deps.keys,
              pending.map((p) => p.address.key),
            )
          : [];
      let next = 0;
      return classified.map((c) => (c.kind === 'final' ? c.decision : decide(c, results[next++] ?? { state: 'no-table' }, ctx)));
    },
  };
}
