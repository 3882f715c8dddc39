/**
 * The configuration contract (SPEC §7.1) as one zod schema with defaults. Secrets are
 * never values in the file: only the name of an environment variable or a file path.
 */
import { byteSize, cidr, cron, domainName, duration, hostPort, secretRef } from './fields.js';
import * as z from './zod.js';

const redisSchema = z.strictObject({
  url: z
    .string()
    .regex(/^rediss?:\/\//, 'not a redis:// or rediss:// URL')
    .optional(),
  namespace: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only')
    .default('switchyard'),
  passwordEnv: z.string().min(1).optional(),
  sentinel: z.strictObject({ name: z.string().min(1), sentinels: z.array(hostPort).min(1) }).optional(),
  cluster: z.strictObject({ nodes: z.array(hostPort).min(1) }).optional(),
  /**
   * Replicas that must hold an accepted message before the relay answers 250 (Redis WAIT).
   * Replication is asynchronous: with Sentinel, set 1 so a failover loses no accepted mail.
   */
  waitReplicas: z.number().int().min(0).max(10).default(0),
  waitTimeout: duration.default('1s'),
});

const domainSchema = z.strictObject({
  name: domainName,
  type: z.enum(['authoritative', 'internalRelay', 'externalRelay']),
  nextHop: z.string().min(1).optional(),
  connector: z.string().min(1).optional(),
});

const connectorSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  smartHosts: z.array(hostPort).min(1),
  addressSpaces: z.array(z.union([z.literal('*'), domainName])).default([]),
  tls: z.enum(['none', 'opportunistic', 'required']).default('opportunistic'),
  caFile: z.string().min(1).optional(),
  auth: z.strictObject({ user: z.string().min(1), ...secretRef }).optional(),
  rewriteOutboundSender: z.boolean().default(false),
  /** DKIM-sign what leaves through this connector; the key is a file (never inline). */
  dkim: z
    .strictObject({
      domain: domainName,
      selector: z.string().regex(/^[A-Za-z0-9._-]+$/, 'a DKIM selector'),
      privateKeyFile: z.string().min(1),
    })
    .optional(),
});

const sourceCommon = {
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only'),
  mailboxConnector: z.string().min(1),
  priority: z.number().int().min(-999_999).max(999_999).default(0),
  schedule: cron.optional(),
  deletionThreshold: z.number().int().min(0).default(500),
  /** Reported stale when the last successful run is older (default: three schedule intervals). */
  staleAfter: duration.optional(),
};

/** A filter in parentheses, balanced (RFC 4515 form): checked here so a typo names its key. */
const ldapFilter = z
  .string()
  .regex(/^\(.*\)$/s, 'an LDAP filter in parentheses, like (department=Sales)')
  .refine((f) => {
    let depth = 0;
    for (const c of f.replace(/\\[0-9a-fA-F]{2}/g, '')) {
      depth += c === '(' ? 1 : c === ')' ? -1 : 0;
      if (depth < 0) return false;
    }
    return depth === 0;
  }, 'unbalanced parentheses');
/** Parallel searches of a full sync over disjoint parts of the scope (off when absent). */
const partitionConnections = z.number().int().min(2).max(8).default(4);
const ldapPartitionsSchema = z.discriminatedUnion('by', [
  /** AD: uSNChanged ranges split from the rootDSE's highestCommittedUSN, one per connection. */
  z.strictObject({ by: z.literal('usn'), connections: partitionConnections }),
  /** Any directory: these filters (ANDed with the source's filter) and the remainder none of them matches. */
  z.strictObject({ by: z.literal('filters'), filters: z.array(ldapFilter).min(1).max(16), connections: partitionConnections }),
]);

/** The default `pageSize` of an LDAP source's searches. */
export const LDAP_PAGE_SIZE = 200;

const ldapSourceSchema = z.strictObject({
  ...sourceCommon,
  type: z.literal('ldap'),
  url: z.string().regex(/^ldaps?:\/\//, 'not an ldap:// or ldaps:// URL'),
  startTls: z.boolean().default(false),
  caFile: z.string().min(1).optional(),
  bindDn: z.string().min(1).optional(),
  bindPasswordEnv: z.string().min(1).optional(),
  bindPasswordFile: z.string().min(1).optional(),
  baseDn: z.string().min(1),
  scope: z.enum(['base', 'one', 'sub']).default('sub'),
  filter: z.string().min(1).optional(),
  mapping: z.enum(['ad', 'openldap']).default('ad'),
  deltaSchedule: cron.optional(),
  partitions: ldapPartitionsSchema.optional(),
  /**
   * Entries per page of a paged search (AD serves at most its MaxPageSize, 1000). Smaller pages
   * hold fewer entries in memory at once (B2: 200 costs 8–10 % less CPU than 1000); larger
   * ones save a round trip per page over a slow link.
   */
  pageSize: z.number().int().min(1).max(1000).default(LDAP_PAGE_SIZE),
});

const csvdeSourceSchema = z.strictObject({
  ...sourceCommon,
  type: z.literal('csvde'),
  path: z.string().min(1).optional(),
});

/**
 * One GAL-sync direction (SPEC §10): contacts for the objects of `from` written into the
 * OU `ou` of the LDAP source `to`, on `schedule`. The write account (bindDn + password by
 * env or file, never inline) defaults to the target source's own.
 */
const galSyncSchema = z.strictObject({
  from: z.string().min(1),
  to: z.string().min(1),
  ou: z.string().min(1),
  routingDomain: domainName,
  schedule: cron.optional(),
  bindDn: z.string().min(1).optional(),
  bindPasswordEnv: z.string().min(1).optional(),
  bindPasswordFile: z.string().min(1).optional(),
  deletionThreshold: z.number().int().min(0).default(500),
});

const relaySchema = z.strictObject({
  listen: z.array(hostPort).min(1).default(['127.0.0.1:2525']),
  hostname: z.string().min(1).default('localhost'),
  /**
   * Relay processes `switchyard relay` runs on this machine (node:cluster, sharing the
   * listeners): a number, or `auto` for one per CPU core. Each is a relay of its own
   * (SPEC §9); a primary process supervises them.
   */
  processes: z.union([z.number().int().min(1).max(64), z.literal('auto')]).default(1),
  trustedNetworks: z.array(cidr).default(['127.0.0.1/32', '::1/128']),
  maxHops: z.number().int().min(1).max(500).default(30),
  maxMessageSize: z.number().int().min(1024).default(36_700_160),
  /**
   * Bytes of queued message data per queue shard (SPEC §5): a MAIL whose SIZE= (or, without
   * it, maxMessageSize) would exceed it gets 452 4.3.1. 0 turns the budget off (not advised:
   * a long next-hop outage then grows Redis until maxmemory).
   */
  queueBudget: byteSize.default(128 * 1024 ** 2),
  maxRecipients: z.number().int().min(1).default(500),
  maxConnections: z.number().int().min(1).default(500),
  maxConnectionsPerIp: z.number().int().min(1).default(50),
  commandTimeout: duration.default('5m'),
  /** Pause before the 220 greeting; a client that talks during it is refused (early talker). */
  greetingDelay: duration.default('0ms'),
  dataTimeout: duration.default('10m'),
  maxQueueLifetime: duration.default('5d'),
  delayWarning: z.union([duration, z.literal('off')]).default('4h'),
  /** First retry delay; each further one doubles, up to `retryMax`. */
  retryFirst: duration.default('1m'),
  retryMax: duration.default('1h'),
  /** How long a claimed delivery stays with one relay before another may take it over. */
  deliveryLease: duration.default('2m'),
  /** Transactions in flight at once (all next hops together) and per smart host. */
  deliveryConcurrency: z.number().int().min(1).max(1000).default(40),
  connectionsPerHost: z.number().int().min(1).max(200).default(10),
  tls: z.strictObject({ key: z.string().min(1), cert: z.string().min(1) }).optional(),
  /** SMTP AUTH (PLAIN, LOGIN) over TLS for submitting clients, who may then relay outbound. */
  auth: z.strictObject({ usersFile: z.string().min(1) }).optional(),
  /**
   * HAProxy PROXY protocol v1/v2 from these load balancers (addresses or CIDR blocks): their
   * connections must start with a PROXY header, whose client address the session then uses.
   */
  proxyProtocol: z
    .strictObject({
      from: z.array(cidr).min(1),
      headerTimeout: duration.default('5s'),
    })
    .optional(),
  /** Failed AUTH from one address: slowed from slowAfter, refused from refuseAfter for refuseFor (counted in Redis). */
  authFailures: z
    .strictObject({
      slowAfter: z.number().int().min(1).default(3),
      slowBy: duration.default('1s'),
      refuseAfter: z.number().int().min(1).default(10),
      window: duration.default('15m'),
      refuseFor: duration.default('15m'),
    })
    .default({ slowAfter: 3, slowBy: '1s', refuseAfter: 10, window: '15m', refuseFor: '15m' }),
  /** Where postmaster@ an accepted domain goes when the directory does not hold it (SPEC §5). */
  postmaster: z
    .string()
    .regex(/^[^@\s]+@[^@\s]+$/, 'an address like admin@contoso.edu')
    .optional(),
});

const traceSchema = z.strictObject({
  enabled: z.boolean().default(true),
  retention: duration.default('7d'),
  /** Events kept per message or session (the oldest go first). */
  maxEventsPerMessage: z.number().int().min(10).default(500),
  /** Trace ids kept per recipient, sender or Message-ID index key and shard (the oldest go first). */
  maxIndexEntries: z.number().int().min(10).default(10_000),
});

const mailflowSchema = z.strictObject({
  /** Recipients `test mailflow --send` may send a probe message to (one per path); none: stage 4 is skipped. */
  probeRecipients: z.array(z.string().regex(/^[^@\s]+@[^@\s]+$/, 'an address like probe@contoso.edu')).default([]),
  /** Envelope sender of the probes (default postmaster@relay.hostname). */
  from: z
    .string()
    .regex(/^[^@\s]+@[^@\s]+$/, 'an address like postmaster@contoso.edu')
    .optional(),
  /** Recipients asked per connector by the callout stage (`--sample N` overrides). */
  sample: z.number().int().min(0).default(5),
  /** Callouts per second at most, per next hop. */
  calloutRate: z.number().min(0.1).max(100).default(5),
  timeout: duration.default('30s'),
  /** Run `test mailflow` (without --send) on this schedule in the worker; results in metrics. */
  schedule: cron.optional(),
});

const tableSchema = z.strictObject({
  versionsKept: z.number().int().min(2).max(100).default(5),
  /** Every version younger than this is kept too (SPEC §3.2), whatever versionsKept says. */
  keepFor: duration.default('24h'),
  /** Staging a full snapshot: objects per script, scripts in flight when unpaced (faster imports against RCPT latency: stage-pace.ts). */
  stageBatch: z.number().int().min(1).max(200).default(2),
  stageInFlight: z.number().int().min(1).max(16).default(2),
  /** While relays answer lookups from a published table version: the share of wall time a full staging may hold Redis (1: unpaced; staging-pace.ts). */
  stageDuty: z.number().min(0.02).max(1).default(0.25),
});

export const configSchema = z.strictObject({
  redis: redisSchema.default(redisSchema.parse({})),
  domains: z.array(domainSchema).default([]),
  connectors: z.array(connectorSchema).default([]),
  sources: z.array(z.discriminatedUnion('type', [ldapSourceSchema, csvdeSourceSchema])).default([]),
  relay: relaySchema.default(relaySchema.parse({})),
  galSync: z.array(galSyncSchema).default([]),
  admin: z
    .strictObject({
      listen: hostPort.default('127.0.0.1:8025'),
      /** Environment variable holding the bearer token; required when listen is not loopback. */
      tokenEnv: z.string().min(1).optional(),
      /** Host names (besides IP addresses and localhost) the admin answers to: DNS-rebinding guard. */
      allowedHosts: z.array(z.string().regex(/^[A-Za-z0-9.-]+$/, 'a host name')).default([]),
    })
    .default({ listen: '127.0.0.1:8025', allowedHosts: [] }),
  table: tableSchema.default(tableSchema.parse({})),
  /** The mail queue is spread over this many hash tags (SPEC §9): on a Cluster, over every master. */
  queue: z.strictObject({ shards: z.number().int().min(1).max(1296).default(16) }).default({ shards: 16 }),
  /** Message trace (SPEC §11): kept `retention`, capped per message and per index key. */
  trace: traceSchema.default(traceSchema.parse({})),
  /** Audit log of operator actions (SPEC §11): a capped Redis stream. */
  /** `switchyard test mailflow` (SPEC §11). */
  mailflow: mailflowSchema.default(mailflowSchema.parse({})),
  audit: z.strictObject({ maxEntries: z.number().int().min(100).default(100_000) }).default({ maxEntries: 100_000 }),
});

export type Config = z.infer<typeof configSchema>;
export type DomainConfig = Config['domains'][number];
export type ConnectorConfig = Config['connectors'][number];
export type SourceConfig = Config['sources'][number];
export type LdapSourceConfig = Extract<SourceConfig, { type: 'ldap' }>;
export type CsvdeSourceConfig = Extract<SourceConfig, { type: 'csvde' }>;
export type GalSyncConfig = Config['galSync'][number];
