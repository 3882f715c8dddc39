/**
 * The routing decision for one envelope recipient (SPEC §4), as pure functions.
 * `classify` settles everything that needs no directory; `decide` finishes the
 * recipients that do, from one table lookup result. Callers batch the lookups.
 */
import type { Config, ConnectorConfig, DomainConfig } from '../config/schema.js';
import { parseAddress, type Address } from './address.js';
import { bestConnector, classifyDomain } from './domains.js';
import type { RecipientObject } from './object.js';
import { renderReply, replies, type SmtpReply } from './replies.js';

export type Reason =
  | 'syntax'
  | 'outbound'
  | 'relay-denied'
  | 'external-relay'
  | 'target-address'
  | 'mailbox'
  | 'unknown-recipient'
  | 'internal-relay'
  | 'temporary-failure';

export interface Decision {
  readonly address: string;
  readonly action: 'route' | 'reject' | 'defer';
  readonly recipient?: string;
  readonly connector?: string;
  readonly smtp: string;
  readonly reply: SmtpReply;
  readonly reason: Reason;
  readonly object?: { source: string; id: string; dn: string };
  readonly tableVersion?: number;
}

export type LookupResult =
  | {
      readonly state: 'ok';
      readonly version: number;
      /** The sources with a full snapshot in this version (SPEC §3.2 completeness). */
      readonly sources: readonly string[];
      readonly object?: RecipientObject;
    }
  | { readonly state: 'no-table' }
  | { readonly state: 'unavailable'; readonly error: string };

export interface RoutingContext {
  readonly domains: readonly DomainConfig[];
  readonly connectors: readonly ConnectorConfig[];
  /** Source name → its mailbox connector: every configured source. */
  readonly mailboxConnectors: ReadonlyMap<string, string>;
  /** `relay.postmaster`: where postmaster@ an authoritative domain goes when the directory lacks it. */
  readonly postmaster?: string;
  /** Without `relay.postmaster`: the mailbox connector of the highest-priority source. */
  readonly postmasterConnector?: string;
}

export type Classified =
  | { readonly kind: 'final'; readonly decision: Decision }
  | { readonly kind: 'lookup'; readonly address: Address; readonly raw: string; readonly domain: DomainConfig };

export function routingContext(
  config: Pick<Config, 'domains' | 'connectors' | 'sources'> & { relay?: Pick<Config['relay'], 'postmaster'> },
): RoutingContext {
  // highest priority first, then the first configured (a stable order, as in merge)
  const first = [...config.sources].sort((a, b) => b.priority - a.priority)[0];
  const postmaster = config.relay?.postmaster;
  return {
    domains: config.domains,
    connectors: config.connectors,
    mailboxConnectors: new Map(config.sources.map((s) => [s.name, s.mailboxConnector])),
    ...(postmaster !== undefined ? { postmaster } : {}),
    ...(first ? { postmasterConnector: first.mailboxConnector } : {}),
  };
}

/** Configured sources without a full snapshot in the looked-up version, in config order. */
export function missingSources(ctx: RoutingContext, present: readonly string[]): string[] {
  const have = new Set(present);
  return [...ctx.mailboxConnectors.keys()].filter((s) => !have.has(s));
}

function route(raw: string, recipient: string, connector: string, reason: Reason, extra: Partial<Decision> = {}): Decision {
  return {
    address: raw,
    action: 'route',
    recipient,
    connector,
    reply: replies.accepted,
    smtp: renderReply(replies.accepted),
    reason,
    ...extra,
  };
}

function refuse(raw: string, reply: SmtpReply, reason: Reason, extra: Partial<Decision> = {}): Decision {
  const action = reply.code >= 500 ? 'reject' : 'defer';
  return { address: raw, action, reply, smtp: renderReply(reply), reason, ...extra };
}

/** Steps 1–4 of SPEC §4: syntax, domain class, relay rules, externalRelay. */
export function classify(raw: string, ctx: RoutingContext, trusted: boolean): Classified {
  const parsed = parseAddress(raw);
  if (!parsed.ok) return { kind: 'final', decision: refuse(raw, replies.syntax, 'syntax') };
  const address = parsed.address;
  const domain = address.literal ? undefined : classifyDomain(ctx.domains, address.domainKey);
  if (domain === undefined) {
    if (!trusted) return { kind: 'final', decision: refuse(raw, replies.relayDenied, 'relay-denied') };
    const c = bestConnector(ctx.connectors, address.domainKey);
    return {
      kind: 'final',
      decision: c ? route(raw, raw, c.name, 'outbound') : refuse(raw, replies.noRoute, 'temporary-failure'),
    };
  }
  if (domain.type === 'externalRelay') {
    return { kind: 'final', decision: route(raw, raw, domain.connector ?? '', 'external-relay') };
  }
  return { kind: 'lookup', address, raw, domain };
}

/**
 * The connector for a targetAddress (SPEC §4.5): the target's accepted domain first (an
 * externalRelay domain's connector, an internalRelay domain's nextHop), then the best
 * address space; undefined (451 4.4.0) when neither names one.
 */
function connectorForTarget(ctx: RoutingContext, target: string): string | undefined {
  const parsed = parseAddress(target);
  if (!parsed.ok) return undefined;
  const domain = parsed.address.literal ? undefined : classifyDomain(ctx.domains, parsed.address.domainKey);
  if (domain?.type === 'externalRelay' && domain.connector !== undefined) return domain.connector;
  if (domain?.type === 'internalRelay' && domain.nextHop !== undefined) return domain.nextHop;
  return bestConnector(ctx.connectors, parsed.address.domainKey)?.name;
}

/**
 * postmaster@ an authoritative domain the directory does not hold (SPEC §5, RFC 5321
 * §4.5.1): rewritten to `relay.postmaster` and routed by its domain like a targetAddress
 * (one step, not looked up again; an address of an authoritative domain goes to the
 * highest-priority source's mailbox connector), else to the highest-priority source's mailbox connector.
 */
function postmaster(raw: string, ctx: RoutingContext, tableVersion: number): Decision {
  if (ctx.postmaster !== undefined) {
    const parsed = parseAddress(ctx.postmaster);
    const own = parsed.ok && classifyDomain(ctx.domains, parsed.address.domainKey)?.type === 'authoritative';
    // an address of an authoritative domain is a mailbox here: the first source's connector
    const connector = own ? ctx.postmasterConnector : connectorForTarget(ctx, ctx.postmaster);
    if (connector !== undefined) return route(raw, ctx.postmaster, connector, 'target-address', { tableVersion });
  } else if (ctx.postmasterConnector !== undefined) {
    return route(raw, raw, ctx.postmasterConnector, 'mailbox', { tableVersion });
  }
  return refuse(raw, replies.noRoute, 'temporary-failure', { tableVersion });
}

/** Steps 5–6 of SPEC §4 for a recipient `classify` left for the directory. */
export function decide(pending: Extract<Classified, { kind: 'lookup' }>, lookup: LookupResult, ctx: RoutingContext): Decision {
  const { raw, domain } = pending;
  if (lookup.state === 'no-table') return refuse(raw, replies.noTable, 'temporary-failure');
  if (lookup.state === 'unavailable') return refuse(raw, replies.tempFailure, 'temporary-failure');
  const tableVersion = lookup.version;
  const obj = lookup.object;
  if (obj === undefined) {
    if (domain.type !== 'authoritative') return route(raw, raw, domain.nextHop ?? '', 'internal-relay', { tableVersion });
    if (pending.address.local.toLowerCase() === 'postmaster') return postmaster(raw, ctx, tableVersion);
    // only a complete version may say a recipient does not exist (SPEC §3.2, §4.6)
    if (missingSources(ctx, lookup.sources).length > 0) return refuse(raw, replies.incomplete, 'temporary-failure', { tableVersion });
    return refuse(raw, replies.unknown, 'unknown-recipient', { tableVersion });
  }
  const object = { source: obj.source, id: obj.id, dn: obj.dn };
  if (obj.target !== undefined) {
    const connector = connectorForTarget(ctx, obj.target);
    if (connector === undefined) return refuse(raw, replies.noRoute, 'temporary-failure', { object, tableVersion });
    return route(raw, obj.target, connector, 'target-address', { object, tableVersion });
  }
  const connector = ctx.mailboxConnectors.get(obj.source);
  if (connector === undefined) return refuse(raw, replies.noRoute, 'temporary-failure', { object, tableVersion });
  return route(raw, raw, connector, 'mailbox', { object, tableVersion });
}
