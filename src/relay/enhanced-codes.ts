/**
 * smtp-server (3.x) picks the enhanced status code of an application error from the basic
 * code alone (554 → 5.6.0, 501 → 5.5.4), so a relay-denied 554 would say 5.6.0 instead of
 * 5.7.1. Our replies carry their own enhanced code at the start of the text (see
 * SmtpReplyError); this wrapper sends such a text without a second, generated code.
 * Installed once per process; idempotent.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;
const INSTALLED = Symbol.for('switchyard.enhancedCodes');

interface Sender {
  send(code: number, data?: string | string[], context?: string | false): void;
}

export function installEnhancedCodes(): void {
  const proto = SMTPConnection.prototype as unknown as Sender & { [INSTALLED]?: true };
  if (proto[INSTALLED]) return;
  const original = proto.send;
  proto.send = function send(this: Sender, code, data, context) {
    const own = typeof data === 'string' && ENHANCED_PREFIX.test(data);
    original.call(this, code, data, own ? false : context);
  };
  proto[INSTALLED] = true;
}
