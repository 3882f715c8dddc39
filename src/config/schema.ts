/**
 * The configuration contract (SPEC §7.1) as one zod schema with defaults. Secrets are
 * never values in the file: only the name of an environment variable or a file path.
 */
import { z } from 'zod';
import { DURATION } from './duration.js';

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;
const DOMAIN =
  /^(?:\*\.)?(?:[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\-\u0080-\uffff]*[A-Za-z0-9\u0080-\uffff])?\.)*[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\-\u0080-\uffff]*[A-Za-z0-9\u0080-\uffff])?$/;
const CIDR = /^(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(?:\/\d{1,3})?$/;
const CRON = /^\s*\S+(?:\s+\S+){4,5}\s*$/;

const hostPort = z.string().regex(HOST_PORT, 'not host:port');
const domainName = z.string().regex(DOMAIN, 'not a domain name (or *.domain)');
const cron = z.string().regex(CRON, 'not a cron expression (5 or 6 fields)');
const duration = z.string().regex(DURATION, 'a duration like 250ms, 30s, 5m, 4h, 5d');

/** A secret given by environment variable name or file path, never inline. */
const secretRef = {
  passwordEnv: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
};

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
});

const csvdeSourceSchema = z.strictObject({
  ...sourceCommon,
  type: z.literal('csvde'),
  path: z.string().min(1).optional(),
});

const relaySchema = z.strictObject({
  listen: z.array(hostPort).min(1).default(['127.0.0.1:2525']),
  hostname: z.string().min(1).default('localhost'),
  trustedNetworks: z.array(z.string().regex(CIDR, 'not an IP address or CIDR block')).default(['127.0.0.1/32', '::1/128']),
  maxHops: z.number().int().min(1).max(500).default(30),
  maxMessageSize: z.number().int().min(1024).default(36_700_160),
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

export const configSchema = z.strictObject({
  redis: redisSchema.default(redisSchema.parse({})),
  domains: z.array(domainSchema).default([]),
  connectors: z.array(connectorSchema).default([]),
  sources: z.array(z.discriminatedUnion('type', [ldapSourceSchema, csvdeSourceSchema])).default([]),
  relay: relaySchema.default(relaySchema.parse({})),
  admin: z
    .strictObject({
      listen: hostPort.default('127.0.0.1:8025'),
      /** Environment variable holding the bearer token; required when listen is not loopback. */
      tokenEnv: z.string().min(1).optional(),
    })
    .default({ listen: '127.0.0.1:8025' }),
  table: z
    .strictObject({
      versionsKept: z.number().int().min(2).max(100).default(5),
      /** Every version younger than this is kept too (SPEC §3.2), whatever versionsKept says. */
      keepFor: duration.default('24h'),
    })
    .default({ versionsKept: 5, keepFor: '24h' }),
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
