/**
 * Stage 1 of `test mailflow` (SPEC §11), pure: every accepted domain and every targetAddress
 * domain of the table has a route; no connector pointing at this relay; a default connector
 * for trusted clients' outbound mail.
 */
import type { Config } from '../config/schema.js';
import { pointsAtListener } from '../config/self-route.js';
import { bestConnector, classifyDomain } from '../routing/domains.js';
import { fail, pass, verdict, type Check } from './check.js';

type StaticConfig = Pick<Config, 'domains' | 'connectors' | 'sources' | 'relay'>;

/** The connector a targetAddress domain is sent through (as routing/decide.ts does), if any. */
export function targetRoute(config: StaticConfig, domain: string): string | undefined {
  const d = classifyDomain(config.domains, domain);
  if (d?.type === 'externalRelay' && d.connector !== undefined) return d.connector;
  if (d?.type === 'internalRelay' && d.nextHop !== undefined) return d.nextHop;
  return bestConnector(config.connectors, domain)?.name;
}

function domainChecks(config: StaticConfig, known: ReadonlySet<string>): Check[] {
  return config.domains.map((d) => {
    const path = `${d.type} ${d.name}`;
    if (d.type === 'authoritative') {
      const missing = config.sources.filter((s) => !known.has(s.mailboxConnector)).map((s) => `${s.name} → ${s.mailboxConnector}`);
      if (config.sources.length === 0) return fail('static', path, 'a source whose mailboxes it holds', 'no source configured');
      return verdict(
        'static',
        path,
        'every source has a mailbox connector',
        missing.length === 0
          ? `mailboxes via ${[...new Set(config.sources.map((s) => s.mailboxConnector))].join(', ')}`
          : `no connector named ${missing.join(', ')}`,
        missing.length === 0,
      );
    }
    const hop = d.type === 'internalRelay' ? d.nextHop : d.connector;
    const key = d.type === 'internalRelay' ? 'nextHop' : 'connector';
    if (hop === undefined) return fail('static', path, `a ${key}`, `no ${key}: mail for it has no route`);
    return verdict('static', path, `${key} is a connector`, known.has(hop) ? `via ${hop}` : `no connector named ${hop}`, known.has(hop));
  });
}

/** A loop: a connector sending to this relay's own listener (the next-hop stage also compares greetings). */
function loopChecks(config: StaticConfig, ownNames: ReadonlySet<string>): Check[] {
  const out: Check[] = [];
  for (const c of config.connectors) {
    const self = c.smartHosts.filter((h) => pointsAtListener(h, config.relay.listen, ownNames));
    out.push(
      verdict(
        'static',
        `connector ${c.name}`,
        'smart hosts other than this relay',
        self.length > 0 ? `points at this relay: ${self.join(', ')}` : c.smartHosts.join(', '),
        self.length === 0,
      ),
    );
  }
  return out;
}

export function staticChecks(config: StaticConfig, targetDomains: readonly string[], ownNames: ReadonlySet<string>): Check[] {
  const known = new Set(config.connectors.map((c) => c.name));
  const checks = [...domainChecks(config, known), ...loopChecks(config, ownNames)];
  for (const t of targetDomains) {
    const via = targetRoute(config, t);
    checks.push(
      via !== undefined
        ? pass('static', `target ${t}`, 'a route', `via ${via}`)
        : fail('static', `target ${t}`, 'a route', 'no route (451 4.4.0 to senders)'),
    );
  }
  const outbound = bestConnector(config.connectors, 'outbound.invalid');
  checks.push(
    outbound !== undefined
      ? pass('static', 'outbound', "a default connector (address space '*')", `via ${outbound.name}`)
      : fail('static', 'outbound', "a default connector (address space '*')", 'none: trusted clients cannot send out'),
  );
  return checks;
}
