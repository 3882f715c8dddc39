/**
 * Checks of MAIL FROM / RCPT TO beyond what smtp-server does, each with the reply the RFCs
 * ask for (SPEC §5 limits: malformed input gets the right error):
 *
 * - bytes that are not UTF-8 in an address (smtp-server decodes the line as UTF-8, so they
 *   arrive as U+FFFD): 501 5.1.7 (sender) / 501 5.1.3 (recipient);
 * - a non-ASCII address in a transaction without the SMTPUTF8 parameter: 553 5.6.7
 *   (RFC 6531 §3.4);
 * - ENVID over 100 characters (RFC 3461 §4.4) or not printable ASCII, and an ORCPT that is
 *   not `addr-type;xtext` (RFC 3461 §4.2): 501 5.5.4. smtp-server has decoded the xtext
 *   already (`+HH`), so what is checked is the decoded value: printable ASCII, except for
 *   the `utf-8` address type (RFC 6533).
 */
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { relayReplies as paramReplies, type SmtpReply } from '../routing/replies.js';

const REPLACEMENT = '\uFFFD';
const NON_ASCII = /[^\p{ASCII}]/u;
const NOT_PRINTABLE_ASCII = /[^\x21-\x7E]/;
const ADDR_TYPE = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
const ENVID_MAX = 100;

const arg = (address: SMTPServerAddress, name: string): string | true | undefined => {
  if (address.args === false) return undefined;
  const key = Object.keys(address.args).find((k) => k.toUpperCase() === name);
  return key === undefined ? undefined : (address.args as Record<string, string | true>)[key];
};

/** The reply refusing a MAIL FROM, or undefined when its address and parameters are fine. */
export function mailFromProblem(address: SMTPServerAddress): SmtpReply | undefined {
  if (address.address.includes(REPLACEMENT)) return paramReplies.senderNotUtf8;
  if (NON_ASCII.test(address.address) && arg(address, 'SMTPUTF8') === undefined) return paramReplies.needsSmtpUtf8;
  const envid = arg(address, 'ENVID');
  if (typeof envid === 'string') {
    if (envid.length > ENVID_MAX) return paramReplies.envidTooLong;
    if (NOT_PRINTABLE_ASCII.test(envid)) return paramReplies.envidSyntax;
  }
  return undefined;
}

/** The reply refusing a RCPT TO, or undefined when its address and parameters are fine. */
export function rcptToProblem(address: SMTPServerAddress, session: SMTPServerSession): SmtpReply | undefined {
  if (address.address.includes(REPLACEMENT)) return paramReplies.recipientNotUtf8;
  const utf8 =
    session.envelope.smtpUtf8 === true || (session.envelope.mailFrom && arg(session.envelope.mailFrom, 'SMTPUTF8') !== undefined);
  if (NON_ASCII.test(address.address) && !utf8) return paramReplies.needsSmtpUtf8;
  const orcpt = arg(address, 'ORCPT');
  if (orcpt !== undefined) {
    if (orcpt === true) return paramReplies.orcptSyntax;
    const semi = orcpt.indexOf(';');
    const type = orcpt.slice(0, semi);
    const value = orcpt.slice(semi + 1);
    if (semi <= 0 || value === '' || !ADDR_TYPE.test(type)) return paramReplies.orcptSyntax;
    if (type.toLowerCase() !== 'utf-8' && NOT_PRINTABLE_ASCII.test(value)) return paramReplies.orcptSyntax;
    if (value.includes(REPLACEMENT)) return paramReplies.orcptSyntax;
  }
  return undefined;
}
