/**
 * What the relay's handlers read from the configuration, derived in one place and swapped as
 * a whole on reload (a session keeps the settings it started with).
 */
import { readFileSync } from 'node:fs';
import type { SMTPServerOptions } from 'smtp-server';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import type { AcceptDeps } from './data.js';
import { readUsers } from './auth.js';
import { trustedNetworks, type TrustedNetworks } from './trust.js';

/** The parts of the relay's dependencies the settings carry into acceptance. */
export type SettingsDeps = Pick<AcceptDeps, 'store' | 'hopMarker' | 'logger' | 'runner' | 'senderPrimary'>;

/** What the handlers read from the configuration, derived in one place and swapped as a whole on reload. */
export interface RelaySettings {
  readonly rc: Config['relay'];
  readonly trusted: TrustedNetworks;
  readonly users: ReadonlyMap<string, string> | undefined;
  readonly tls: { key: Buffer; cert: Buffer } | undefined;
  readonly dataTimeoutMs: number;
  readonly acceptDeps: AcceptDeps;
}

export function relaySettings(config: Config, deps: SettingsDeps): RelaySettings {
  const rc = config.relay;
  return {
    rc,
    trusted: trustedNetworks(rc.trustedNetworks),
    users: rc.auth ? readUsers(rc.auth.usersFile) : undefined,
    tls: rc.tls ? { key: readFileSync(rc.tls.key), cert: readFileSync(rc.tls.cert) } : undefined,
    dataTimeoutMs: parseDuration(rc.dataTimeout),
    acceptDeps: {
      store: deps.store,
      hostname: rc.hostname,
      maxHops: rc.maxHops,
      hopMarker: deps.hopMarker,
      logger: deps.logger,
      leaseMs: parseDuration(rc.deliveryLease),
      ...(deps.runner ? { runner: deps.runner } : {}),
      rewritingHops: new Set(config.connectors.filter((c) => c.rewriteOutboundSender).map((c) => c.name)),
      ...(deps.senderPrimary ? { senderPrimary: deps.senderPrimary } : {}),
      queueBudget: rc.queueBudget,
      bodyHash: config.connectors.some((c) => c.dkim !== undefined),
    },
  };
}

/** The smtp-server options that follow the settings (applied to new connections). */
export function serverLimits(s: RelaySettings): SMTPServerOptions {
  return {
    size: s.rc.maxMessageSize,
    maxClients: s.rc.maxConnections,
    maxRecipients: s.rc.maxRecipients,
    socketTimeout: parseDuration(s.rc.commandTimeout),
    hideSTARTTLS: s.tls === undefined,
    ...(s.tls ?? {}),
  };
}

/** Every option of the relay's smtp-server but its handlers: every extension on, limits from the settings. */
export function serverOptions(s: RelaySettings): SMTPServerOptions {
  return {
    name: s.rc.hostname,
    banner: 'Switchyard ESMTP',
    ...serverLimits(s),
    closeTimeout: 30_000,
    greetingDelayMs: parseDuration(s.rc.greetingDelay),
    hideDSN: false,
    hideENHANCEDSTATUSCODES: false,
    hidePIPELINING: false,
    hide8BITMIME: false,
    hideSMTPUTF8: false,
    authOptional: true,
    authMethods: ['PLAIN', 'LOGIN'],
    allowInsecureAuth: false,
    disabledCommands: s.users ? [] : ['AUTH'],
    disableReverseLookup: true,
    logger: false,
  } as SMTPServerOptions & { greetingDelayMs: number };
}
