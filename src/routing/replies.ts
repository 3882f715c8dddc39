/** Every RCPT-time reply Switchyard gives, rendered in one place (code, enhanced code, text). */
export interface SmtpReply {
  readonly code: number;
  readonly enhanced: string;
  readonly text: string;
}

export const replies = {
  accepted: { code: 250, enhanced: '2.1.5', text: 'Recipient OK' },
  syntax: { code: 501, enhanced: '5.1.3', text: 'Bad recipient address syntax' },
  unknown: { code: 550, enhanced: '5.1.1', text: 'Recipient address rejected: user unknown' },
  relayDenied: { code: 554, enhanced: '5.7.1', text: 'Relay access denied' },
  tempFailure: { code: 451, enhanced: '4.3.0', text: 'Directory temporarily unavailable, try again later' },
  noTable: { code: 451, enhanced: '4.3.0', text: 'No routing table published yet, try again later' },
  noRoute: { code: 451, enhanced: '4.4.0', text: 'No connector for the destination, try again later' },
} as const satisfies Record<string, SmtpReply>;

export function renderReply(reply: SmtpReply): string {
  return `${reply.code} ${reply.enhanced} ${reply.text}`;
}
