/**
 * Every Redis key Switchyard uses, in one place. The routing table, runs and BullMQ share
 * the hash tag `{ns}` so multi-key scripts work on Redis Cluster (one slot per namespace);
 * the mail queue is spread over `queue.shards` tags `{ns:q<k>}` (SPEC §9), one key set each.
 */

/** The keys of one mail queue shard, all under the shard's own hash tag. */
export interface QueueShardKeys {
  readonly shard: number;
  /** The hash tag, braces included: `{<ns>:q<k>}`. */
  readonly tag: string;
  /** Zset of delivery units due (score = due time, ms). */
  readonly ready: string;
  /** Zset of units being delivered (score = lease expiry, ms). */
  readonly active: string;
  /** Zset of units on hold (score = when held, ms). */
  readonly held: string;
  /** Zset of messages written but not yet committed (score = written at, ms); see mq-put.lua. */
  readonly pending: string;
  /** String: bytes of message data queued in the shard (relay.queueBudget). */
  readonly bytes: string;
  /** Zset of budget reservations of transactions in progress (message id → expiry, ms). */
  readonly reservations: string;
  /** Hash: message id → bytes reserved. */
  readonly reservationSizes: string;
  /** Hash of one accepted message (meta, units left, chunk count, bytes; `body` in earlier releases). */
  message(id: string): string;
  /** Hash of one message's data: chunk index → bytes (streamed in during DATA). */
  data(id: string): string;
  /** Hash of one delivery unit (one message, one next hop, its recipients). */
  unit(uid: string): string;
  /**
   * The unit sets of layout 2 (`mq:ready|active|held`), whose messages held their data
   * whole. Layout 3 streams data in chunks and renamed the sets, so a relay of the earlier
   * release still running during an upgrade never claims (and drops) a message it cannot
   * read; the migration moves what is left in them (src/mailqueue/migrate.ts).
   */
  readonly layout2: { readonly ready: string; readonly active: string; readonly held: string };
  /** List: the trace events (JSON) of one message or SMTP session whose trace id names this shard. */
  traceTimeline(id: string): string;
  /** Zset: trace ids (score = time, ms) of the messages and sessions of this shard with this recipient (r), sender (s) or Message-ID (m). */
  traceIndex(kind: 'r' | 's' | 'm', value: string): string;
}

export interface Keys {
  readonly prefix: string;
  readonly current: string;
  /**
   * A token the first publish of a table sets (src/store/lua/publish.lua): a table wiped and
   * published again has another, so a version number seen before names a new layout.
   */
  readonly tableEpoch: string;
  readonly versionSeq: string;
  readonly history: string;
  readonly snapshotSeq: string;
  /** Hash: snapshot id → snapshot meta JSON (source, state, counts). */
  readonly snapshots: string;
  version(n: number | string): string;
  /** Hash, one per shard: object ref → object JSON (src/store/shards.ts). */
  snapshotObjects(id: string, shard: number): string;
  /** Hash, one per shard: lower-cased address → object ref. */
  snapshotAddresses(id: string, shard: number): string;
  /** Hash, one per shard: lower-cased address → {"w": winner ref, "l": [loser refs]}. */
  snapshotConflicts(id: string, shard: number): string;
  /**
   * Hash, one per shard: lower-cased targetAddress → ref of the object whose target it is
   * (the lowest rank when several share it), and `>` + target → JSON array of the others'
   * refs (only when there are others); src/store/targets.ts.
   */
  snapshotTargets(id: string, shard: number): string;
  /** The unsharded hashes of the previous release's layout (read by the migration only). */
  legacySnapshotHash(id: string, kind: 'obj' | 'addr' | 'conf'): string;
  /** Hash: batch id → reply, so a resent batch script changes nothing. */
  snapshotBatches(id: string): string;
  /** Hash: source name → JSON of its last sync or import run (for status and metrics). */
  readonly lastRuns: string;
  /** Hash: source name → number of runs recorded (succeeded or failed). */
  readonly runCounts: string;
  /** Hash: source name → ISO time its last successful (not dry) sync or import finished. */
  readonly lastSuccess: string;
  /** Hash: GAL-sync direction `from>to` → JSON of its last `contacts apply` (src/store/contacts-runs.ts). */
  readonly contactsRuns: string;
  /** String: the owner of the running sync of a source. */
  sourceLock(source: string): string;
  /** Hash: source name → delta watermark JSON. */
  readonly syncState: string;
  /** Hash: source name → pin JSON `{version, since}` (set by a rollback, cleared by `resume`). */
  readonly pins: string;
  /** Hash: source name → JSON of its entries skipped or held by the last syncs (src/store/source-report.ts). */
  readonly sourceReports: string;
  /** Mail queue shard `k` (0 ≤ k < queue.shards): its key set under its own hash tag. */
  mqShard(k: number): QueueShardKeys;
  /** The single-tag queue layout of earlier releases (`{ns}:mq:…`), read only by the migration. */
  readonly mqLegacy: Omit<QueueShardKeys, 'shard'>;
  /** String: the secret the relays sign their hop markers with (created on first start). */
  readonly hopSecret: string;
  /** String: failed SMTP AUTH attempts from one client address (expires; src/relay/auth-limit.ts). */
  authFailures(ip: string): string;
  /** String: the data layout this namespace is in (src/upgrade/migrate.ts); absent before layout 2. */
  readonly layout: string;
  /** String: the token of the process migrating the layout. */
  readonly layoutLock: string;
  /** Stream: the audit log of operator actions (src/audit/). */
  readonly audit: string;
  /** Hash per hour (epoch hours): `<minute>|<connector>|<accepted|delivered|deferred|bounced>` → count, and `<minute>|queue|<state>` → depth; every relay adds to it. */
  stats(hour: number): string;
  /** String: JSON of the last `test mailflow` report (src/mailflow/run.ts). */
  readonly mailflowLast: string;
  /** BullMQ's own prefix (never ioredis keyPrefix): its keys carry the same hash tag. */
  readonly bullPrefix: string;
  /** Zset: running relay and worker processes (`<role> <host>:<pid>`) → heartbeat expiry (ms). */
  readonly processes: string;
  /** String with a TTL: present while a relay has answered recipient lookups in the last seconds (src/store/lookup-beacon.ts). */
  readonly lookupsSeen: string;
  /** Pub/sub channel: reload requests (`switchyard reload`) to every registered process. */
  readonly reloadChannel: string;
  /** List: the answers of the processes to one reload request. */
  reloadReplies(request: string): string;
}

export function createKeys(namespace: string): Keys {
  const prefix = `{${namespace}}`;
  // a queue shard's names are built once: the queue asks for them on every operation
  const shards: QueueShardKeys[] = [];
  return {
    prefix,
    current: `${prefix}:table:current`,
    tableEpoch: `${prefix}:table:epoch`,
    versionSeq: `${prefix}:table:seq`,
    history: `${prefix}:table:history`,
    snapshotSeq: `${prefix}:snap:seq`,
    snapshots: `${prefix}:snaps`,
    version: (n) => `${prefix}:table:v:${n}`,
    snapshotObjects: (id, shard) => `${prefix}:snap:${id}:obj:${shard}`,
    snapshotAddresses: (id, shard) => `${prefix}:snap:${id}:addr:${shard}`,
    snapshotConflicts: (id, shard) => `${prefix}:snap:${id}:conf:${shard}`,
    snapshotTargets: (id, shard) => `${prefix}:snap:${id}:tgt:${shard}`,
    legacySnapshotHash: (id, kind) => `${prefix}:snap:${id}:${kind}`,
    snapshotBatches: (id) => `${prefix}:snap:${id}:batches`,
    lastRuns: `${prefix}:runs:last`,
    runCounts: `${prefix}:runs:count`,
    lastSuccess: `${prefix}:runs:ok`,
    syncState: `${prefix}:sync:state`,
    contactsRuns: `${prefix}:contacts:last`,
    pins: `${prefix}:sync:pins`,
    sourceReports: `${prefix}:sync:report`,
    sourceLock: (source) => `${prefix}:sync:lock:${source}`,
    mqShard: (k) => (shards[k] ??= queueKeys(`{${namespace}:q${k}}`, k)),
    mqLegacy: (() => {
      const k = queueKeys(prefix, -1);
      return { ...k, ...k.layout2 }; // layout 1 used the set names layout 2 kept
    })(),
    hopSecret: `${prefix}:relay:hopsecret`,
    authFailures: (ip) => `${prefix}:relay:authfail:${ip}`,
    layout: `${prefix}:layout`,
    layoutLock: `${prefix}:layout:lock`,
    audit: `${prefix}:audit`,
    mailflowLast: `${prefix}:mailflow:last`,
    stats: (hour) => `${prefix}:stats:${hour}`,
    bullPrefix: `${prefix}:bull`,
    processes: `${prefix}:ctl:procs`,
    lookupsSeen: `${prefix}:ctl:lookups`,
    reloadChannel: `${prefix}:ctl:reload`,
    reloadReplies: (request) => `${prefix}:ctl:reload:${request}`,
  };
}

export type SnapshotHash = 'obj' | 'addr' | 'conf' | 'tgt';

const SHARD_KEY: Record<SnapshotHash, (keys: Keys, id: string, shard: number) => string> = {
  obj: (k, id, s) => k.snapshotObjects(id, s),
  addr: (k, id, s) => k.snapshotAddresses(id, s),
  conf: (k, id, s) => k.snapshotConflicts(id, s),
  tgt: (k, id, s) => k.snapshotTargets(id, s),
};

/** Every shard key of one of a snapshot's hashes, shard 0 first. */
export function shardKeys(keys: Keys, id: string, hash: SnapshotHash, shards: number): string[] {
  const key = SHARD_KEY[hash];
  return Array.from({ length: shards }, (_, i) => key(keys, id, i));
}

/** Frozen: createKeys hands the same object to every caller of a shard. */
function queueKeys(tag: string, shard: number): QueueShardKeys {
  return Object.freeze<QueueShardKeys>({
    shard,
    tag,
    ready: `${tag}:mq:due`,
    active: `${tag}:mq:lease`,
    held: `${tag}:mq:hold`,
    layout2: Object.freeze({ ready: `${tag}:mq:ready`, active: `${tag}:mq:active`, held: `${tag}:mq:held` }),
    pending: `${tag}:mq:pending`,
    bytes: `${tag}:mq:bytes`,
    reservations: `${tag}:mq:resv`,
    reservationSizes: `${tag}:mq:resv:size`,
    message: (id) => `${tag}:mq:m:${id}`,
    data: (id) => `${tag}:mq:d:${id}`,
    unit: (uid) => `${tag}:mq:u:${uid}`,
    traceTimeline: (id) => `${tag}:tr:t:${id}`,
    traceIndex: (kind, value) => `${tag}:tr:i:${kind}:${value}`,
  });
}
