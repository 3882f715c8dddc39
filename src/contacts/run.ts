/**
 * One `contacts apply` run of a GAL-sync direction, as the CLI (inline) and the worker's
 * job run it: the wanted contacts from the table, the write password from the
 * environment or a file, the apply, and its result kept for `status`.
 */
import type { Config, GalSyncConfig, LdapSourceConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import { recordContactsRun } from '../store/contacts-runs.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { sourceObjects } from '../store/source-objects.js';
import { applyContacts, ContactsApplyError, wantedContacts, type ApplyOptions, type ApplyResult } from './apply.js';

/** A direction as asked for: from, to, ou and routing domain, the rest from config. */
export type GalSyncRequest = Pick<GalSyncConfig, 'from' | 'to' | 'ou' | 'routingDomain'>;

/** The configured direction matching a request (its credentials and threshold), or the defaults. */
export function resolveGalSync(config: Config, req: GalSyncRequest): { gal: GalSyncConfig; target: LdapSourceConfig } {
  const target = config.sources.find((s) => s.name === req.to);
  if (target?.type !== 'ldap') throw new ContactsApplyError(`--to ${req.to}: no ldap source of that name in the configuration`);
  if (!config.sources.some((s) => s.name === req.from))
    throw new ContactsApplyError(`--from ${req.from}: no source of that name in the configuration`);
  const configured = config.galSync.find((g) => g.from === req.from && g.to === req.to && g.ou.toLowerCase() === req.ou.toLowerCase());
  return { gal: configured ? { ...configured, routingDomain: req.routingDomain } : { ...req, deletionThreshold: 500 }, target };
}

export function writePassword(gal: GalSyncConfig, target: LdapSourceConfig, env: NodeJS.ProcessEnv): string | undefined {
  if (gal.bindDn !== undefined)
    return readSecret({ env: gal.bindPasswordEnv, file: gal.bindPasswordFile, key: 'galSync.bindPassword' }, env);
  return readSecret({ env: target.bindPasswordEnv, file: target.bindPasswordFile, key: `sources.${target.name}.bindPassword` }, env);
}

export interface RunDeps {
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly config: Config;
  readonly env: NodeJS.ProcessEnv;
}

export async function runGalSync(deps: RunDeps, req: GalSyncRequest, opts: Omit<ApplyOptions, 'password'> = {}): Promise<ApplyResult> {
  const started = Date.now();
  const base = { from: req.from, to: req.to, ou: req.ou, dryRun: opts.dryRun === true };
  try {
    const { gal, target } = resolveGalSync(deps.config, req);
    const wanted = await wantedContacts(sourceObjects(deps.redis, deps.keys, req.from), req.routingDomain);
    const result = await applyContacts(gal, target, wanted, { ...opts, password: writePassword(gal, target, deps.env) });
    await recordContactsRun(deps.redis, deps.keys, {
      ...base,
      at: new Date().toISOString(),
      ok: result.errors.length === 0,
      durationMs: result.durationMs,
      counts: { ...result.counts },
      conflicts: result.conflicts.map((c) => ({ address: c.address, contactDn: c.contactDn, holderDn: c.holderDn })),
      errors: result.errors,
    });
    return result;
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    await recordContactsRun(deps.redis, deps.keys, {
      ...base,
      at: new Date().toISOString(),
      ok: false,
      durationMs: Date.now() - started,
      error,
    }).catch(() => undefined);
    throw err;
  }
}
