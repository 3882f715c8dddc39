/** Cross-key checks zod cannot express: unique names and references between sections. */
import { accessSync, constants, readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import cron from 'node-cron';
import { parseDuration } from './duration.js';
import { splitHostPort } from './host-port.js';
import { ipFamily } from './ip.js';
import type { Config } from './schema.js';
import { localAddresses, pointsAtListener } from './self-route.js';

function duplicates(names: readonly string[], section: string, lower = false): string[] {
  const seen = new Map<string, number>();
  const problems: string[] = [];
  names.forEach((raw, i) => {
    const name = lower ? raw.toLowerCase() : raw;
    const first = seen.get(name);
    if (first !== undefined) problems.push(`${section}[${i}].name: "${raw}" is already used by ${section}[${first}]`);
    else seen.set(name, i);
  });
  return problems;
}

/** An address or CIDR block that node's BlockList takes (what the relay builds at start). */
function cidrProblem(cidr: string): string | undefined {
  const [addr = '', bits, extra] = cidr.split('/');
  const family = ipFamily(addr);
  if (family === 0 || extra !== undefined) return 'not an IP address or CIDR block';
  if (bits === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) return `prefix length /${bits} out of range (0-${max})`;
  return undefined;
}

/** A file start-up reads: it must exist and be readable now, not fail the relay later. */
function fileProblem(path: string): string | undefined {
  try {
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    return `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
}

/**
 * Files the relay reads at start (TLS key and certificate, users file): each must be
 * readable now, so `config check` catches what start-up would fail on. Run by loadConfig
 * (a configuration read from disk), not by parseConfig (documents checked in isolation).
 */
export function checkFiles(config: Config): string[] {
  const files: [string, string | undefined][] = [
    ['relay.tls.key', config.relay.tls?.key],
    ['relay.tls.cert', config.relay.tls?.cert],
    ['relay.auth.usersFile', config.relay.auth?.usersFile],
  ];
  const problems = files.flatMap(([key, path]) => {
    const p = path === undefined ? undefined : fileProblem(path);
    return p ? [`${key}: ${p}`] : [];
  });
  const tls = config.relay.tls;
  if (tls && problems.length === 0) {
    try {
      createSecureContext({ key: readFileSync(tls.key), cert: readFileSync(tls.cert) });
    } catch (err) {
      problems.push(`relay.tls: the key and certificate cannot be used: ${(err as Error).message}`);
    }
  }
  return problems;
}

export function checkReferences(config: Config): string[] {
  const connectors = new Set(config.connectors.map((c) => c.name));
  const problems = [
    ...duplicates(
      config.connectors.map((c) => c.name),
      'connectors',
    ),
    ...duplicates(
      config.sources.map((s) => s.name),
      'sources',
    ),
    ...duplicates(
      config.domains.map((d) => d.name),
      'domains',
      true,
    ),
  ];
  const ref = (path: string, name: string | undefined): void => {
    if (name !== undefined && !connectors.has(name)) problems.push(`${path}: no connector named "${name}"`);
  };
  config.domains.forEach((d, i) => {
    if (d.type === 'internalRelay' && d.nextHop === undefined) problems.push(`domains[${i}].nextHop: required for an internalRelay domain`);
    if (d.type === 'externalRelay' && d.connector === undefined)
      problems.push(`domains[${i}].connector: required for an externalRelay domain`);
    if (d.type !== 'internalRelay' && d.nextHop !== undefined)
      problems.push(`domains[${i}].nextHop: only an internalRelay domain has a nextHop`);
    ref(`domains[${i}].nextHop`, d.nextHop);
    ref(`domains[${i}].connector`, d.connector);
  });
  config.sources.forEach((s, i) => {
    ref(`sources[${i}].mailboxConnector`, s.mailboxConnector);
    if (s.schedule !== undefined && !cron.validate(s.schedule))
      problems.push(`sources[${i}].schedule: "${s.schedule}" is not a valid cron expression`);
    if (s.type === 'ldap' && s.deltaSchedule !== undefined && !cron.validate(s.deltaSchedule))
      problems.push(`sources[${i}].deltaSchedule: "${s.deltaSchedule}" is not a valid cron expression`);
    if (s.type === 'ldap') {
      if (s.bindDn !== undefined && s.bindPasswordEnv === undefined && s.bindPasswordFile === undefined) {
        problems.push(`sources[${i}].bindPasswordEnv: a bindDn needs bindPasswordEnv or bindPasswordFile`);
      }
      if (s.partitions?.by === 'usn' && s.mapping !== 'ad')
        problems.push(`sources[${i}].partitions.by: usn needs mapping: ad (uSNChanged and highestCommittedUSN); use by: filters`);
      if (/^ldaps:\/\//i.test(s.url) && s.startTls) problems.push(`sources[${i}].startTls: not with ldaps:// (already TLS)`);
      // SPEC §2.2: a simple bind never goes over a connection without TLS (the password would travel in clear)
      if (s.bindDn !== undefined && /^ldap:\/\//i.test(s.url) && !s.startTls) {
        problems.push(
          `sources[${i}].url: a simple bind over plain ldap:// sends the password in clear; use ldaps:// or set sources[${i}].startTls: true`,
        );
      }
    }
  });
  config.galSync.forEach((g, i) => {
    if (!config.sources.some((s) => s.name === g.from)) problems.push(`galSync[${i}].from: no source named "${g.from}"`);
    const to = config.sources.find((s) => s.name === g.to);
    if (to?.type !== 'ldap') problems.push(`galSync[${i}].to: no ldap source named "${g.to}" (contacts are written over LDAP)`);
    if (g.from === g.to) problems.push(`galSync[${i}].to: the same source as from`);
    if (g.schedule !== undefined && !cron.validate(g.schedule))
      problems.push(`galSync[${i}].schedule: "${g.schedule}" is not a valid cron expression`);
    if (g.bindDn !== undefined && g.bindPasswordEnv === undefined && g.bindPasswordFile === undefined)
      problems.push(`galSync[${i}].bindPasswordEnv: a bindDn needs bindPasswordEnv or bindPasswordFile`);
  });
  const ownNames = new Set([...localAddresses(), config.relay.hostname.toLowerCase()]);
  config.connectors.forEach((c, i) => {
    c.smartHosts.forEach((h, j) => {
      if (pointsAtListener(h, config.relay.listen, ownNames)) {
        problems.push(`connectors[${i}].smartHosts[${j}]: "${h}" is this relay's own listener (relay.listen); mail would loop`);
      }
    });
    if (c.auth !== undefined && c.auth.passwordEnv === undefined && c.auth.passwordFile === undefined) {
      problems.push(`connectors[${i}].auth.passwordEnv: AUTH needs passwordEnv or passwordFile`);
    }
  });
  config.relay.trustedNetworks.forEach((cidr, i) => {
    const p = cidrProblem(cidr);
    if (p) problems.push(`relay.trustedNetworks[${i}]: "${cidr}" ${p}`);
  });
  config.relay.proxyProtocol?.from.forEach((cidr, i) => {
    const p = cidrProblem(cidr);
    if (p) problems.push(`relay.proxyProtocol.from[${i}]: "${cidr}" ${p}`);
  });
  const af = config.relay.authFailures;
  if (af.slowAfter > af.refuseAfter) problems.push('relay.authFailures.slowAfter: larger than refuseAfter');
  if (config.relay.auth !== undefined && config.relay.tls === undefined) {
    problems.push('relay.auth: needs relay.tls (passwords are only taken over TLS)');
  }
  const adminHost = splitHostPort(config.admin.listen, 8025).host;
  if (!/^(?:127\.|localhost$|::1$)/.test(adminHost) && config.admin.tokenEnv === undefined) {
    problems.push(`admin.tokenEnv: required when admin.listen (${config.admin.listen}) is not a loopback address`);
  }
  if (parseDuration(config.relay.retryFirst) > parseDuration(config.relay.retryMax)) {
    problems.push('relay.retryFirst: longer than relay.retryMax');
  }
  const r = config.redis;
  if ([r.url, r.sentinel, r.cluster].filter((x) => x !== undefined).length > 1) {
    problems.push('redis: give one of url, sentinel, cluster');
  }
  return problems;
}
