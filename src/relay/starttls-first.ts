/**
 * AUTH before STARTTLS gets `530 5.7.0 Must issue a STARTTLS command first` (RFC 3207 §4,
 * RFC 4954 §4). AUTH is not offered before TLS (session.disabledCommands), so smtp-server
 * answers it `500 command not recognized`; this wraps the connection's `send` to turn that
 * one reply into the 530 — only for AUTH, only before TLS, and only when the server has AUTH
 * at all (relay.auth set). Without relay.auth, AUTH stays "not recognized".
 *
 * The wrapped member (`SMTPConnection.prototype.send`, called with the command name as its
 * third argument) is checked to exist when installed; a different smtp-server fails loudly.
 */
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';

const INSTALLED = Symbol.for('switchyard.starttlsFirst');
export const starttlsFirst = { code: 530, text: '5.7.0 Must issue a STARTTLS command first' } as const;

interface ConnectionInternals {
  send: (this: ConnectionInternals, code: number, data?: string | string[], context?: string | false) => void;
  secure: boolean;
  _server: { options: { disabledCommands?: readonly string[] } };
}

export function installStarttlsFirst(): void {
  const proto = SMTPConnection.prototype as unknown as ConnectionInternals & { [INSTALLED]?: true };
  if (proto[INSTALLED]) return;
  const send = proto.send;
  if (typeof send !== 'function') throw new Error('smtp-server: SMTPConnection.prototype.send is missing (unsupported version)');
  proto.send = function sendStarttlsFirst(this: ConnectionInternals, code, data, context) {
    const authOffered = !(this._server.options.disabledCommands ?? []).includes('AUTH');
    if (code === 500 && context === 'AUTH' && !this.secure && authOffered) {
      send.call(this, starttlsFirst.code, starttlsFirst.text, false);
      return;
    }
    send.call(this, code, data, context);
  };
  proto[INSTALLED] = true;
}
