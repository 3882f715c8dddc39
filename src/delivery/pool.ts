/**
 * Connections to next hops, reused across messages: per smart host at most
 * `connectionsPerHost` at once, idle ones kept for a few seconds. A connector's smart
 * hosts are tried in order; a host that cannot be reached or refuses the connection
 * (greeting, EHLO, STARTTLS, AUTH) passes the attempt to the next.
 */
import { readFileSync } from 'node:fs';
import type { ConnectorConfig } from '../config/schema.js';
import { readSecret } from '../config/secrets.js';
import { splitHostPort } from '../config/host-port.js';
import { SmtpClient, TransactionError, type ConnectOptions } from './smtp-client.js';

export interface PoolOptions {
  /** Our name in EHLO. */
  readonly name: string;
  readonly connectionsPerHost: number;
  readonly timeoutMs: number;
  readonly idleMs?: number;
  readonly maxMessagesPerConnection?: number;
}

interface HostSlot {
  busy: number;
  idle: SmtpClient[];
  waiting: (() => void)[];
}

export interface Pool {
  /** Runs `fn` on a connection to the connector's first reachable smart host. */
  use<T>(connector: ConnectorConfig, fn: (client: SmtpClient) => Promise<T>): Promise<T>;
  close(): void;
}

export function createPool(options: PoolOptions): Pool {
  const slots = new Map<string, HostSlot>();
  const idleMs = options.idleMs ?? 5000;
  const maxMessages = options.maxMessagesPerConnection ?? 100;
  const caCache = new Map<string, Buffer>();
  const timers = new Set<NodeJS.Timeout>();

  const slot = (key: string): HostSlot => {
    let s = slots.get(key);
    if (!s) slots.set(key, (s = { busy: 0, idle: [], waiting: [] }));
    return s;
  };

  async function acquire(s: HostSlot): Promise<void> {
    while (s.busy >= options.connectionsPerHost) await new Promise<void>((r) => s.waiting.push(r));
    s.busy++;
  }

  function release(s: HostSlot, client: SmtpClient | undefined): void {
    s.busy--;
    if (client?.usable && client.messages < maxMessages) {
      s.idle.push(client);
      const t = setTimeout(() => {
        timers.delete(t);
        const i = s.idle.indexOf(client);
        if (i >= 0) {
          s.idle.splice(i, 1);
          client.close();
        }
      }, idleMs);
      t.unref();
      timers.add(t);
    } else client?.close();
    s.waiting.shift()?.();
  }

  function connectOptions(c: ConnectorConfig, hostPort: string): ConnectOptions {
    const { host, port } = splitHostPort(hostPort, 25);
    let ca: Buffer | undefined;
    if (c.caFile !== undefined) {
      ca = caCache.get(c.caFile) ?? readFileSync(c.caFile);
      caCache.set(c.caFile, ca);
    }
    const pass = c.auth
      ? readSecret({ env: c.auth.passwordEnv, file: c.auth.passwordFile, key: `connectors.${c.name}.auth.password` })
      : undefined;
    return {
      host,
      port,
      name: options.name,
      tls: c.tls,
      timeoutMs: options.timeoutMs,
      ...(ca ? { ca } : {}),
      ...(c.auth && pass !== undefined ? { auth: { user: c.auth.user, pass } } : {}),
    };
  }

  async function onHost<T>(c: ConnectorConfig, hostPort: string, fn: (client: SmtpClient) => Promise<T>): Promise<T> {
    const key = `${c.name}|${hostPort}`;
    const s = slot(key);
    await acquire(s);
    let client: SmtpClient | undefined;
    try {
      for (;;) {
        client = s.idle.pop();
        const reused = client !== undefined;
        client ??= await SmtpClient.open(connectOptions(c, hostPort));
        try {
          return await fn(client);
        } catch (err) {
          // a kept connection the server dropped meanwhile: nothing was sent, open a new one
          if (reused && err instanceof TransactionError && err.beforeData && !err.permanent && !client.usable) {
            client = undefined;
            continue;
          }
          throw err;
        }
      }
    } finally {
      release(s, client);
    }
  }

  return {
    async use(c, fn) {
      let last: unknown;
      for (const hostPort of c.smartHosts) {
        try {
          return await onHost(c, hostPort, fn);
        } catch (err) {
          last = err;
          // a host that cannot be reached, or that refuses the connection itself (a 421 or 554
          // greeting, EHLO, STARTTLS or AUTH failing), passes the attempt to the next smart host;
          // a reply about this message (MAIL, RCPT, DATA) does not
          if (!(err instanceof TransactionError) || !(err.atConnect || (err.code === undefined && err.beforeData))) throw err;
        }
      }
      throw last;
    },
    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of slots.values()) for (const c of s.idle.splice(0)) c.close();
    },
  };
}
