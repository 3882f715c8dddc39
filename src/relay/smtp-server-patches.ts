/**
 * Two narrow adjustments of smtp-server 3.x (pinned), installed once per process:
 *
 * 1. Enhanced status codes. smtp-server picks the enhanced code of an application error
 *    from the basic code alone (554 → 5.6.0, 501 → 5.5.4), so a relay-denied 554 would say
 *    5.6.0 instead of 5.7.1. Our replies carry their own enhanced code at the start of the
 *    text (SmtpReplyError); such a text is sent without a second, generated code.
 * 2. Greeting delay. smtp-server waits a fixed 100 ms before the 220 greeting to catch
 *    clients that talk too early. A relay behind the MX or between mail systems gets a new
 *    connection per message from many senders, and 100 ms per message caps a session at
 *    10 messages/s; Postfix's smtpd has no such delay. The delay comes from the server's
 *    `greetingDelayMs` option instead (relay.greetingDelay, default 0).
 *
 * smtp-server has no public option for either, so `send` and `init` of its connection are
 * replaced; `installSmtpServerPatches` first checks that the installed smtp-server is the
 * tested release and has the members the replacements call, and throws otherwise
 * (test/unit/library-internals.test.ts keeps that true).
 */
import { createRequire } from 'node:module';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

/** The smtp-server release these members were read from and tested with. */
export const TESTED_SMTP_SERVER = '3.21.6';

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;
const INSTALLED = Symbol.for('switchyard.smtpServerPatches');

interface ConnectionInternals {
  send: (this: ConnectionInternals, code: number, data?: string | string[], context?: string | false) => void;
  init: (this: ConnectionInternals) => void;
  connectionReady(): void;
  _setListeners(callback: () => void): void;
  _server: { options: { maxClients?: number; greetingDelayMs?: number }; connections: Set<unknown> };
  name: string;
}

/** Throws, naming what is missing, unless the installed smtp-server is the tested one with these members. */
export function assertSmtpServerInternals(): void {
  const version = (createRequire(import.meta.url)('smtp-server/package.json') as { version: string }).version;
  if (version !== TESTED_SMTP_SERVER)
    throw new Error(
      `smtp-server ${version} is installed, but Switchyard replaces internals of ${TESTED_SMTP_SERVER} (src/relay/smtp-server-patches.ts): install the pinned version (npm ci)`,
    );
  const proto = SMTPConnection.prototype as unknown as Partial<Record<keyof ConnectionInternals, unknown>>;
  const missing = (['send', 'init', 'connectionReady', '_setListeners'] as const).filter((m) => typeof proto[m] !== 'function');
  if (missing.length > 0)
    throw new Error(`smtp-server ${version}: SMTPConnection lacks ${missing.join(', ')} (src/relay/smtp-server-patches.ts)`);
}

export function installSmtpServerPatches(): void {
  const proto = SMTPConnection.prototype as unknown as ConnectionInternals & { [INSTALLED]?: true };
  if (proto[INSTALLED]) return;
  assertSmtpServerInternals();
  const send = proto.send;
  proto.send = function patchedSend(this: ConnectionInternals, code, data, context) {
    const own = typeof data === 'string' && ENHANCED_PREFIX.test(data);
    send.call(this, code, data, own ? false : context);
  };
  proto.init = function patchedInit(this: ConnectionInternals) {
    this._setListeners(() => {
      const { maxClients, greetingDelayMs } = this._server.options;
      if (maxClients && this._server.connections.size > maxClients) {
        return this.send(421, `${this.name} Too many connected clients, try again in a moment`, false);
      }
      const delay = greetingDelayMs ?? 100;
      if (delay <= 0) return this.connectionReady();
      setTimeout(() => this.connectionReady(), delay).unref();
    });
  };
  proto[INSTALLED] = true;
}
