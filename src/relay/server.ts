/**
 * The SMTP relay (SPEC §5): smtp-server with every extension on, RCPT-time decisions from
 * the live routing table, durable acceptance at end of DATA. Built by a factory that does
 * not listen; `listen()` and `drain()` are explicit so tests run it in-process.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAddress, type SMTPServerOptions, type SMTPServerSession } from 'smtp-server';
import { parseDuration } from '../config/duration.js';
import type { Config } from '../config/schema.js';
import { splitHostPort } from '../config/host-port.js';
import type { Logger } from '../log/logger.js';
import type { QueueStore } from '../mailqueue/store.js';
import type { Notify } from '../mailqueue/types.js';
import type { Resolver } from '../resolver/resolver.js';
import { parseAddress } from '../routing/address.js';
import { relayReplies, replies, SmtpReplyError } from '../routing/replies.js';
import { acceptMessage, readMessage, type AcceptDeps, type Routed } from './data.js';
import { installSmtpServerPatches } from './smtp-server-patches.js';
import { readUsers, verifyPassword } from './auth.js';
import { trustedNetworks } from './trust.js';
import { noObserver, type Observer } from '../log/observer.js';
import { rcptEvent, receivedEvent, sessionEndEvent } from '../trace/events.js';

export interface RelayDeps {
  readonly config: Config;
  readonly resolver: Resolver;
  readonly store: QueueStore;
  readonly hopSecret: string;
  readonly logger: Logger;
  readonly runner?: AcceptDeps['runner'];
  readonly senderPrimary?: AcceptDeps['senderPrimary'];
  readonly observer?: Observer;
}

export interface Relay {
  /** Starts listening on every `relay.listen` address (port 0 picks a free one). */
  listen(): Promise<AddressInfo[]>;
  /** Graceful stop: 421 to new and idle sessions, transactions in progress finish. */
  drain(graceMs: number): Promise<void>;
  connections(): number;
}

/** ESMTP parameters of the extensions we offer (RFC 5321 §4.1.1.11: anything else is 555). */
const MAIL_PARAMS = new Set(['SIZE', 'BODY', 'SMTPUTF8', 'RET', 'ENVID']);
const RCPT_PARAMS = new Set(['NOTIFY', 'ORCPT']);
const unknownParam = (address: SMTPServerAddress, known: ReadonlySet<string>): boolean =>
  address.args !== false && Object.keys(address.args).some((k) => !known.has(k.toUpperCase()));

/** xtext (RFC 3461) to text, for ORCPT as stored. */
const unxtext = (s: string): string => s.replace(/\+([0-9A-Fa-f]{2})/g, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));

export function createRelay(deps: RelayDeps): Relay {
  installSmtpServerPatches();
  const { config, logger } = deps;
  const rc = config.relay;
  const trusted = trustedNetworks(rc.trustedNetworks);
  const routes = new WeakMap<SMTPServerAddress, Routed>();
  const perIp = new Map<string, number>();
  const counted = new Set<string>();
  const sessionLog = new Map<string, Logger>();
  let draining = false;
  const dataTimeoutMs = parseDuration(rc.dataTimeout);
  const acceptDeps: AcceptDeps = {
    store: deps.store,
    hostname: rc.hostname,
    maxHops: rc.maxHops,
    hopSecret: deps.hopSecret,
    logger,
    leaseMs: parseDuration(rc.deliveryLease),
    ...(deps.runner ? { runner: deps.runner } : {}),
    rewritingHops: new Set(config.connectors.filter((c) => c.rewriteOutboundSender).map((c) => c.name)),
    ...(deps.senderPrimary ? { senderPrimary: deps.senderPrimary } : {}),
  };
  const slog = (session: SMTPServerSession): Logger => sessionLog.get(session.id) ?? logger;
  const observer = deps.observer ?? noObserver;

  const users = rc.auth ? readUsers(rc.auth.usersFile) : undefined;
  const handlers: Partial<SMTPServerOptions> = {
    onAuth(auth, session, cb) {
      const user = auth.username ?? '';
      if (users === undefined || (auth.method !== 'PLAIN' && auth.method !== 'LOGIN'))
        return cb(new SmtpReplyError(relayReplies.authFailed));
      verifyPassword(users, user, auth.password ?? '').then(
        (ok) => {
          slog(session).info(
            { event: ok ? 'SY_AUTH_OK' : 'SY_AUTH_FAILED', user, method: auth.method },
            ok ? 'client authenticated' : 'authentication failed',
          );
          cb(ok ? null : new SmtpReplyError(relayReplies.authFailed), ok ? { user } : undefined);
        },
        () => cb(new SmtpReplyError(relayReplies.internalError)),
      );
    },
    onConnect(session, cb) {
      if (draining) return cb(new SmtpReplyError(relayReplies.shuttingDown));
      const n = perIp.get(session.remoteAddress) ?? 0;
      if (n >= rc.maxConnectionsPerIp) {
        logger.warn({ event: 'SY_CONN_LIMIT', ip: session.remoteAddress, open: n }, 'per-IP connection limit reached');
        return cb(new SmtpReplyError(relayReplies.tooManyConnections));
      }
      perIp.set(session.remoteAddress, n + 1);
      counted.add(session.id);
      // AUTH is offered only over TLS (RFC 4954 §4: no PLAIN/LOGIN passwords in clear)
      session.disabledCommands = users === undefined || !session.secure ? ['AUTH'] : [];
      sessionLog.set(session.id, logger.child({ session: session.id, ip: session.remoteAddress }));
      cb();
    },
    onSecure(_socket, session, cb) {
      session.disabledCommands = users === undefined ? ['AUTH'] : [];
      cb();
    },
    onClose(session) {
      sessionLog.delete(session.id);
      observer.trace?.(sessionEndEvent(session));
      if (!counted.delete(session.id)) return;
      const n = (perIp.get(session.remoteAddress) ?? 1) - 1;
      if (n <= 0) perIp.delete(session.remoteAddress);
      else perIp.set(session.remoteAddress, n);
    },
    onMailFrom(address, _session, cb) {
      if (draining) return cb(new SmtpReplyError(relayReplies.shuttingDown));
      if (unknownParam(address, MAIL_PARAMS)) return cb(new SmtpReplyError(relayReplies.unknownParameter));
      if (address.address !== '' && !parseAddress(address.address).ok) return cb(new SmtpReplyError(relayReplies.senderSyntax));
      cb();
    },
    onRcptTo(address, session, cb) {
      if (unknownParam(address, RCPT_PARAMS)) return cb(new SmtpReplyError(relayReplies.unknownParameter));
      const isTrusted = trusted.has(session.remoteAddress) || Boolean(session.user);
      const started = performance.now();
      deps.resolver.resolve([address.address], isTrusted).then(
        ([d]) => {
          if (d === undefined) return cb(new SmtpReplyError(relayReplies.internalError));
          const seconds = (performance.now() - started) / 1000;
          const ms = Math.round(seconds * 1_000_000) / 1000;
          observer.decision(d.reason, d.action, seconds);
          observer.trace?.(rcptEvent(session, d));
          slog(session).info(
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
            ...(address.dsn?.orcpt ? { orcpt: unxtext(address.dsn.orcpt) } : {}),
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
      readMessage(stream, dataTimeoutMs)
        .then(async (raw) => {
          if (raw === undefined)
            return cb(
              new SmtpReplyError({ code: 552, enhanced: '5.3.4', text: `Message exceeds the size limit of ${rc.maxMessageSize} bytes` }),
            );
          const routed = session.envelope.rcptTo.flatMap((a) => {
            const r = routes.get(a);
            return r ? [r] : [];
          });
          if (routed.length === 0) return cb(new SmtpReplyError(relayReplies.noRecipients));
          const result = await acceptMessage({ ...acceptDeps, logger: log }, session, raw, routed);
          if (!result.ok) {
            log.warn({ event: 'SY_DATA_REJECTED', reply: result.reply }, 'message refused at end of DATA');
            return cb(new SmtpReplyError(result.reply));
          }
          observer.accepted();
          observer.trace?.(receivedEvent(session, result.id, raw, routed));
          cb(null, `${result.reply.enhanced} ${result.reply.text}`);
        })
        .catch((err: unknown) => {
          const timeout = err instanceof Error && err.message === 'data timeout';
          log.warn({ event: timeout ? 'SY_DATA_TIMEOUT' : 'SY_DATA_ERROR', err: String(err) }, 'DATA failed');
          cb(new SmtpReplyError(timeout ? relayReplies.dataTimeout : relayReplies.internalError));
        });
    },
  };

  const tls = rc.tls ? { key: readFileSync(rc.tls.key), cert: readFileSync(rc.tls.cert) } : undefined;
  const servers = rc.listen.map(
    () =>
      new SMTPServer({
        name: rc.hostname,
        banner: 'Switchyard ESMTP',
        size: rc.maxMessageSize,
        maxClients: rc.maxConnections,
        maxRecipients: rc.maxRecipients,
        socketTimeout: parseDuration(rc.commandTimeout),
        closeTimeout: 30_000,
        greetingDelayMs: parseDuration(rc.greetingDelay),
        hideDSN: false,
        hideENHANCEDSTATUSCODES: false,
        hidePIPELINING: false,
        hide8BITMIME: false,
        hideSMTPUTF8: false,
        hideSTARTTLS: tls === undefined,
        ...(tls ?? {}),
        authOptional: true,
        authMethods: ['PLAIN', 'LOGIN'],
        allowInsecureAuth: false,
        disabledCommands: users ? [] : ['AUTH'],
        disableReverseLookup: true,
        logger: false,
        ...handlers,
      } as SMTPServerOptions & { greetingDelayMs: number }),
  );
  for (const s of servers) s.on('error', (err) => logger.error({ event: 'SY_SMTP_SERVER_ERROR', err: String(err) }, 'SMTP server error'));

  return {
    async listen() {
      return Promise.all(
        servers.map(
          (s, i) =>
            new Promise<AddressInfo>((resolve, reject) => {
              const { host, port } = splitHostPort(rc.listen[i] ?? '127.0.0.1:25', 25);
              s.server.once('error', reject);
              s.listen(port, host, () => resolve(s.server.address() as AddressInfo));
            }),
        ),
      );
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
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
    connections: () => servers.reduce((n, s) => n + s.connections.size, 0),
  };
}
