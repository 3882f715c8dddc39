/**
 * The SMTP relay (SPEC §5): smtp-server with every extension on, RCPT-time decisions from
 * the live routing table, durable acceptance at end of DATA. Built by a factory that does
 * not listen; `listen()` and `drain()` are explicit so tests run it in-process.
 */
import type { AddressInfo, Server } from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerDataStream, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import type { Config } from '../config/schema.js';
import { splitHostPort } from '../config/host-port.js';
import type { Logger } from '../log/logger.js';
import type { HopMarker } from '../message/loop-marker.js';
import type { QueueStore } from '../mailqueue/store.js';
import type { Notify } from '../mailqueue/types.js';
import type { Resolver } from '../resolver/resolver.js';
import { parseAddress } from '../routing/address.js';
import { relayReplies, replies, SmtpReplyError } from '../routing/replies.js';
import { receiveMessage, type AcceptDeps, type Routed } from './data.js';
import { relaySettings, serverLimits, serverOptions, type RelaySettings } from './settings.js';
import { Transactions } from './transactions.js';
import { installSmtpServerPatches } from './smtp-server-patches.js';
import { installStarttlsFirst } from './starttls-first.js';
import { mailFromProblem, rcptToProblem } from './params.js';
import { verifyPassword } from './auth.js';
import { authRefused, type AuthLimiter } from './auth-limit.js';
import { proxyListeners } from './proxy-protocol.js';
import { noObserver, type Observer } from '../log/observer.js';
import type { LookupBeacon } from '../store/lookup-beacon.js';
import { rcptEvent, receivedEvent, sessionEndEvent } from '../trace/events.js';

export interface RelayDeps {
  readonly config: Config;
  readonly resolver: Resolver;
  readonly store: QueueStore;
  readonly hopMarker: HopMarker;
  readonly logger: Logger;
  readonly runner?: AcceptDeps['runner'];
  readonly senderPrimary?: AcceptDeps['senderPrimary'];
  readonly observer?: Observer;
  /** Shared AUTH failure counters (relay.authFailures); absent: no limit. */
  readonly authLimiter?: AuthLimiter;
  /** Told of every recipient lookup: marks the table as read, so a full staging yields Redis to the lookups. */
  readonly lookups?: LookupBeacon;
}

export interface Relay {
  /** Starts listening on every `relay.listen` address (port 0 picks a free one). */
  listen(): Promise<AddressInfo[]>;
  /**
   * Takes on a reloaded configuration for the sessions that connect from now on (limits,
   * trusted networks, AUTH users, TLS certificates); a session keeps the settings it started
   * with. Throws, changing nothing, when a file it names cannot be read.
   */
  reconfigure(config: Config): void;
  /** Graceful stop: 421 to new and idle sessions, transactions in progress finish. */
  drain(graceMs: number): Promise<void>;
  connections(): number;
}

/** ESMTP parameters of the extensions we offer (RFC 5321 §4.1.1.11: anything else is 555). */
const MAIL_PARAMS = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID']);
const RCPT_PARAMS = new Set(['NOTIFY', 'ORCPT']);
const unknownParam = (address: SMTPServerAddress, known: ReadonlySet<string>): boolean =>
  address.args !== false && Object.keys(address.args).some((k) => !known.has(k.toUpperCase()));

export function createRelay(deps: RelayDeps): Relay {
  installSmtpServerPatches();
  installStarttlsFirst();
  const { logger } = deps;
  const listenOn = deps.config.relay.listen; // fixed for the process: a change needs a restart
  let current = relaySettings(deps.config, deps);
  /** The settings each session started with (its transactions finish under them). */
  const sessionSettings = new Map<string, RelaySettings>();
  const settingsOf = (session: SMTPServerSession): RelaySettings => sessionSettings.get(session.id) ?? current;
  const routes = new WeakMap<SMTPServerAddress, Routed>();
  const perIp = new Map<string, number>();
  const counted = new Set<string>();
  const sessionLog = new Map<string, Logger>();
  /** DATA streams being read, by session: a connection that closes mid-DATA ends its stream (smtp-server leaves it open). */
  const reading = new Map<string, SMTPServerDataStream>();
  let draining = false;
  /** The connection of a session (to answer and close it outside a command, e.g. a stalled DATA). */
  const connectionOf = (sessionId: string) => {
    for (const s of servers) for (const c of s.connections) if (c.id === sessionId) return c;
    return undefined;
  };
  const slog = (session: SMTPServerSession): Logger => sessionLog.get(session.id) ?? logger;
  const observer = deps.observer ?? noObserver;
  const txns = new Transactions(deps.store, logger, observer);

  const handlers: Partial<SMTPServerOptions> = {
    onAuth(auth, session, cb) {
      const user = auth.username ?? '';
      const { users } = settingsOf(session);
      if (users === undefined || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN'))
        return cb(new SmtpReplyError(relayReplies.authFailed));
      const limiter = deps.authLimiter;
      const ip = session.remoteAddress;
      (async () => {
        if (await limiter?.refused(ip)) {
          slog(session).warn({ event: 'SY_AUTH_REFUSED', user, method: auth.method }, 'too many failed AUTH attempts; refused');
          return cb(new SmtpReplyError(authRefused));
        }
        const ok = await verifyPassword(users, user, auth.password ?? '');
        slog(session).info(
          { event: ok ? 'SY_AUTH_OK' : 'SY_AUTH_FAILED', user, method: auth.method },
          ok ? 'client authenticated' : 'authentication failed',
        );
        if (ok) return cb(null, { user });
        await limiter?.failed(ip); // slowed down past relay.authFailures.slowAfter
        cb(new SmtpReplyError(relayReplies.authFailed));
      })().catch(() => cb(new SmtpReplyError(relayReplies.internalError)));
    },
    onConnect(session, cb) {
      if (draining) return cb(new SmtpReplyError(relayReplies.shuttingDown));
      const { rc, users } = current;
      const n = perIp.get(session.remoteAddress) ?? 0;
      if (n >= rc.maxConnectionsPerIp) {
        logger.warn({ event: 'SY_CONN_LIMIT', ip: session.remoteAddress, open: n }, 'per-IP connection limit reached');
        return cb(new SmtpReplyError(relayReplies.tooManyConnections));
      }
      perIp.set(session.remoteAddress, n + 1);
      counted.add(session.id);
      sessionSettings.set(session.id, current);
      // AUTH is offered only over TLS (RFC 4954 §4: no PLAIN/LOGIN passwords in clear)
      session.disabledCommands = users === undefined || !session.secure ? ['AUTH'] : [];
      sessionLog.set(session.id, logger.child({ session: session.id, ip: session.remoteAddress }));
      cb();
    },
    onSecure(_socket, session, cb) {
      session.disabledCommands = settingsOf(session).users === undefined ? ['AUTH'] : [];
      cb();
    },
    onClose(session) {
      sessionLog.delete(session.id);
      txns.release(session.id);
      reading.get(session.id)?.destroy(new Error('connection closed during DATA'));
      sessionSettings.delete(session.id);
      observer.trace?.(sessionEndEvent(session));
      if (!counted.delete(session.id)) return;
      const n = (perIp.get(session.remoteAddress) ?? 1) - 1;
      if (n <= 0) perIp.delete(session.remoteAddress);
      else perIp.set(session.remoteAddress, n);
    },
    onMailFrom(address, session, cb) {
      if (draining) return cb(new SmtpReplyError(relayReplies.shuttingDown));
      if (unknownParam(address, MAIL_PARAMS)) return cb(new SmtpReplyError(relayReplies.unknownParameter));
      const problem = mailFromProblem(address);
      if (problem) return cb(new SmtpReplyError(problem));
      if (address.address !== '' && !parseAddress(address.address).ok) return cb(new SmtpReplyError(relayReplies.senderSyntax));
      const { rc } = settingsOf(session);
      const args = address.args === false ? {} : (address.args as Record<string, string | undefined>);
      const declared = args.SIZE !== undefined ? Number(args.SIZE) : undefined;
      const size = declared !== undefined && declared > 0 ? declared : rc.maxMessageSize;
      void txns
        .begin(session.id, rc, size, () => sessionLog.has(session.id))
        .then((outcome) => {
          if (outcome === 'full') cb(new SmtpReplyError(relayReplies.queueBudget));
          else if (outcome !== 'gone') cb();
        });
    },
    onRcptTo(address, session, cb) {
      if (unknownParam(address, RCPT_PARAMS)) return cb(new SmtpReplyError(relayReplies.unknownParameter));
      const problem = rcptToProblem(address, session);
      if (problem) return cb(new SmtpReplyError(problem));
      const isTrusted = settingsOf(session).trusted.has(session.remoteAddress) || Boolean(session.user);
      const started = performance.now();
      deps.lookups?.seen();
      deps.resolver.resolve([address.address], isTrusted).then(
        ([d]) => {
          if (d === undefined) return cb(new SmtpReplyError(relayReplies.internalError));
          const seconds = (performance.now() - started) / 1000;
          const ms = Math.round(seconds * 1_000_000) / 1000;
          observer.decision(d.reason, d.action, seconds);
          observer.trace?.(rcptEvent(session, d));
          // a routed recipient is logged at debug (the message trace has it, SY_MESSAGE_QUEUED names its hop); a refusal at info
          slog(session)[d.action === 'route' ? 'debug' : 'info'](
            {
              event: 'SY_RCPT',
              rcpt: d.address,
              action: d.action,
              reason: d.reason,
              connector: d.connector,
              recipient: d.recipient,
              table: d.tableVersion,
              smtp: d.smtp,
              ms,
            },
            'recipient decided',
          );
          if (d.action !== 'route' || d.connector === undefined) return cb(new SmtpReplyError(d.reply));
          const notify = address.dsn?.notify as Notify[] | undefined;
          routes.set(address, {
            hop: d.connector,
            rcpt: d.recipient ?? address.address,
            orig: address.address,
            reason: d.reason,
            ...(notify ? { notify } : {}),
            // smtp-server has decoded the xtext already (decoding again turned john+2Bde into garbage)
            ...(address.dsn?.orcpt ? { orcpt: address.dsn.orcpt } : {}),
          });
          cb();
        },
        (err: unknown) => {
          slog(session).error({ event: 'SY_RCPT_ERROR', rcpt: address.address, err: String(err) }, 'recipient lookup failed; answered 451');
          cb(new SmtpReplyError(replies.tempFailure));
        },
      );
    },
    onData(stream, session, cb) {
      const log = slog(session);
      const { acceptDeps, dataTimeoutMs } = settingsOf(session);
      const routed = session.envelope.rcptTo.flatMap((a) => {
        const r = routes.get(a);
        return r ? [r] : [];
      });
      const txn = txns.take(session.id);
      if (txn === undefined || routed.length === 0) {
        // nothing to queue: read the message to the dot and refuse it
        stream.on('data', () => undefined);
        stream.once('end', () => cb(new SmtpReplyError(txn === undefined ? relayReplies.internalError : relayReplies.noRecipients)));
        if (txn !== undefined) deps.store.abandon(txn.id).catch(() => undefined);
        return;
      }
      const idle = {
        ms: dataTimeoutMs,
        onIdle: () => {
          log.warn({ event: 'SY_DATA_TIMEOUT', msg_id: txn.id, seconds: dataTimeoutMs / 1000 }, 'no data for dataTimeout; 421 and closing');
          const c = connectionOf(session.id);
          c?.send(relayReplies.dataTimeout.code, `${relayReplies.dataTimeout.enhanced} ${relayReplies.dataTimeout.text}`);
          c?.close();
        },
      };
      reading.set(session.id, stream);
      receiveMessage({ ...acceptDeps, logger: log }, session, stream, txn, routed, idle)
        .finally(() => reading.delete(session.id))
        .then((result) => {
          if (!result.ok) {
            log.warn({ event: 'SY_DATA_REJECTED', reply: result.reply }, 'message refused at end of DATA');
            return cb(new SmtpReplyError(result.reply));
          }
          observer.accepted();
          observer.trace?.(receivedEvent(session, result.id, result, routed));
          cb(null, `${result.reply.enhanced} ${result.reply.text}`);
        })
        .catch((err: unknown) => {
          log.warn({ event: 'SY_DATA_ERROR', msg_id: txn.id, err: String(err) }, 'DATA failed');
          deps.store.abandon(txn.id).catch(() => undefined);
          cb(new SmtpReplyError(relayReplies.internalError));
        });
    },
  };

  const servers = listenOn.map(() => new SMTPServer({ ...serverOptions(current), ...handlers }));
  for (const s of servers) s.on('error', (err) => logger.error({ event: 'SY_SMTP_SERVER_ERROR', err: String(err) }, 'SMTP server error'));
  // relay.proxyProtocol: our own listeners read the PROXY header, then hand the socket over
  const proxy = current.rc.proxyProtocol;
  const listeners: Server[] = proxy ? proxyListeners(servers, proxy, logger) : servers.map((s) => s.server);
  return {
    async listen() {
      return Promise.all(
        listeners.map(
          (l, i) =>
            new Promise<AddressInfo>((resolve, reject) => {
              const { host, port } = splitHostPort(listenOn[i] ?? '127.0.0.1:25', 25);
              // a start-up failure names its key (the CLI prints it and exits 1)
              l.once('error', (err: NodeJS.ErrnoException) =>
                reject(new Error(`relay.listen[${i}]: cannot listen on ${listenOn[i]}: ${err.code ?? err.message}`)),
              );
              l.listen(port, host, () => resolve(l.address() as AddressInfo));
            }),
        ),
      );
    },
    reconfigure(config) {
      const next = relaySettings(config, deps); // reads the TLS and users files: throws before anything changes
      current = next;
      // smtp-server's public way to change options: merged into server.options, read by each new connection
      for (const s of servers) s.updateSecureContext({ name: next.rc.hostname, ...serverLimits(next) });
    },
    async drain(graceMs) {
      draining = true;
      for (const s of servers) {
        for (const c of s.connections) {
          const inTransaction = Boolean(c.session?.envelope?.mailFrom);
          if (!inTransaction)
            c.send(relayReplies.shuttingDown.code, `${relayReplies.shuttingDown.enhanced} ${relayReplies.shuttingDown.text}`);
        }
      }
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && servers.some((s) => s.connections.size > 0)) await new Promise((r) => setTimeout(r, 50));
      if (proxy) await Promise.all(listeners.map((l) => new Promise<void>((r) => l.close(() => r()))));
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
    connections: () => servers.reduce((n, s) => n + s.connections.size, 0),
  };
}
