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
  | { readonly state: 'ok'; readonly version: number; readonly object?: RecipientObject }
  | { readonly state: 'no-table' }
  | { readonly state: 'unavailable'; readonly error: string };

export interface RoutingContext {
  readonly domains: readonly DomainConfig[];
  readonly connectors: readonly ConnectorConfig[];
  /** Source name → its mailbox connector. */
  readonly mailboxConnectors: ReadonlyMap<string, string>;
}

export type Classified =
  | { readonly kind: 'final'; readonly decision: Decision }
  | { readonly kind: 'lookup'; readonly address: Address; readonly raw: string; readonly domain: DomainConfig };

export function routingContext(config: Pick<Config, 'domains' | 'connectors' | 'sources'>): RoutingContext {
  return {
    domains: config.domains,
    connectors: config.connectors,
    mailboxConnectors: new Map(config.sources.map((s) => [s.name, s.mailboxConnector])),
  };
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

/** The connector for a targetAddress: best address space, else the accepted domain's own route. */
function connectorForTarget(ctx: RoutingContext, target: string): string | undefined {
  const parsed = parseAddress(target);
  if (!parsed.ok) return undefined;
  const best = bestConnector(ctx.connectors, parsed.address.domainKey);
  if (best) return best.name;
  const domain = classifyDomain(ctx.domains, parsed.address.domainKey);
  return domain?.connector ?? domain?.nextHop;
}

/** Steps 5–6 of SPEC §4 for a recipient `classify` left for the directory. */
export function decide(pending: Extract<Classified, { kind: 'lookup' }>, lookup: LookupResult, ctx: RoutingContext): Decision {
  const { raw, domain } = pending;
  if (lookup.state === 'no-table') return refuse(raw, replies.noTable, 'temporary-failure');
  if (lookup.state === 'unavailable') return refuse(raw, replies.tempFailure, 'temporary-failure');
  const tableVersion = lookup.version;
  const obj = lookup.object;
  if (obj === undefined) {
    if (domain.type === 'authoritative') return refuse(raw, replies.unknown, 'unknown-recipient', { tableVersion });
    return route(raw, raw, domain.nextHop ?? '', 'internal-relay', { tableVersion });
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
