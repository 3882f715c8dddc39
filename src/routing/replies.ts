/**
 * Every reply Switchyard gives an SMTP client, rendered in one place (code, enhanced
 * code, text): RCPT-time routing decisions and the relay's session, DATA and limit replies.
 */
export interface SmtpReply {
  readonly code: number;
  readonly enhanced: string;
  readonly text: string;
}

/** RCPT-time replies; `accepted` is the text smtp-server itself gives a recipient it takes. */
export const replies = {
  accepted: { code: 250, enhanced: '2.1.5', text: 'Accepted' },
  syntax: { code: 501, enhanced: '5.1.3', text: 'Bad recipient address syntax' },
  unknown: { code: 550, enhanced: '5.1.1', text: 'Recipient address rejected: user unknown' },
  relayDenied: { code: 554, enhanced: '5.7.1', text: 'Relay access denied' },
  tempFailure: { code: 451, enhanced: '4.3.0', text: 'Directory temporarily unavailable, try again later' },
  incomplete: {
    code: 451,
    enhanced: '4.3.0',
    text: 'Routing table incomplete (a configured source has not published yet), try again later',
  },
  noTable: { code: 451, enhanced: '4.3.0', text: 'No routing table published yet, try again later' },
  noRoute: { code: 451, enhanced: '4.4.0', text: 'No connector for the destination, try again later' },
} as const satisfies Record<string, SmtpReply>;

/** Replies of the relay's session outside RCPT routing. */
export const relayReplies = {
  senderSyntax: { code: 501, enhanced: '5.1.7', text: 'Bad sender address syntax' },
  unknownParameter: { code: 555, enhanced: '5.5.4', text: 'Unsupported MAIL FROM or RCPT TO parameter' },
  tooManyRecipients: { code: 452, enhanced: '4.5.3', text: 'Too many recipients for one message' },
  tooManyConnections: { code: 421, enhanced: '4.7.0', text: 'Too many connections from your address, try again later' },
  tooManyHops: { code: 554, enhanced: '5.4.6', text: 'Routing loop detected: too many Received headers' },
  loopMarker: {
    code: 554,
    enhanced: '5.4.6',
    text: 'Routing loop detected: this message already passed this relay for the same recipients',
  },
  bareLf: { code: 550, enhanced: '5.6.0', text: 'Message has bare LF line endings; use CRLF (RFC 5321 section 2.3.8)' },
  nulByte: { code: 550, enhanced: '5.6.0', text: 'Message contains NUL bytes' },
  tooBig: { code: 552, enhanced: '5.3.4', text: 'Message exceeds the size limit' },
  queueBudget: { code: 452, enhanced: '4.3.1', text: 'Insufficient system storage: the mail queue is full, try again later' },
  notReplicated: { code: 451, enhanced: '4.3.0', text: 'Message not queued (replicas did not acknowledge it), try again later' },
  noRecipients: { code: 554, enhanced: '5.5.1', text: 'No valid recipients' },
  queueFailure: { code: 451, enhanced: '4.3.0', text: 'Message not queued (queue storage unavailable), try again later' },
  dataTimeout: { code: 421, enhanced: '4.4.2', text: 'Timeout while receiving the message, closing connection' },
  shuttingDown: { code: 421, enhanced: '4.3.2', text: 'Service shutting down, try again later' },
  authFailed: { code: 535, enhanced: '5.7.8', text: 'Authentication credentials invalid' },
  internalError: { code: 451, enhanced: '4.3.0', text: 'Local error in processing, try again later' },
  // MAIL FROM / RCPT TO parameter checks (src/relay/params.ts)
  senderNotUtf8: { code: 501, enhanced: '5.1.7', text: 'Bad sender address syntax: not UTF-8' },
  recipientNotUtf8: { code: 501, enhanced: '5.1.3', text: 'Bad recipient address syntax: not UTF-8' },
  needsSmtpUtf8: { code: 553, enhanced: '5.6.7', text: 'Non-ASCII address requires the SMTPUTF8 parameter (RFC 6531)' },
  envidTooLong: { code: 501, enhanced: '5.5.4', text: 'ENVID longer than 100 characters (RFC 3461 section 4.4)' },
  envidSyntax: { code: 501, enhanced: '5.5.4', text: 'ENVID is not valid xtext (RFC 3461 section 4.4)' },
  orcptSyntax: { code: 501, enhanced: '5.5.4', text: 'ORCPT is not addr-type;xtext (RFC 3461 section 4.2)' },
} as const satisfies Record<string, SmtpReply>;

export function renderReply(reply: SmtpReply): string {
  return `${reply.code} ${reply.enhanced} ${reply.text}`;
}

/** The 250 to DATA, naming the queue id the message is traced by. */
export function queuedReply(id: string): SmtpReply {
  return { code: 250, enhanced: '2.0.0', text: `Ok: queued as ${id}` };
}

/** A reply with a detail appended (e.g. a count), same codes. */
export function withDetail(reply: SmtpReply, detail: string): SmtpReply {
  return { ...reply, text: `${reply.text} (${detail})` };
}

/** An Error smtp-server turns into exactly this reply (never its default 550). */
export class SmtpReplyError extends Error {
  readonly responseCode: number;
  constructor(readonly reply: SmtpReply) {
    super(`${reply.enhanced} ${reply.text}`);
    this.name = 'SmtpReplyError';
    this.responseCode = reply.code;
  }
}
