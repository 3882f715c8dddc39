/**
 * Pure scans of a received message's header block (Received count, our loop markers) and
 * the Received: line this relay adds.
 */
const CR = 0x0d;
const LF = 0x0a;

/** What makes a message unacceptable as SMTP content (stream-scan.ts finds it). */
export type ContentProblem = 'bareLf' | 'nulByte';

/** Offset just past the blank line that ends the header block (the body's start). */
export function headerEnd(buf: Buffer): number {
  if (buf.length >= 2 && buf[0] === CR && buf[1] === LF) return 2;
  const i = buf.indexOf('\r\n\r\n');
  return i < 0 ? buf.length : i + 4;
}

export interface HeaderScan {
  readonly received: number;
  /** Unfolded values of every header named `markerName`. */
  readonly markers: readonly string[];
}

export function scanHeaders(buf: Buffer, markerName: string): HeaderScan {
  const text = buf.subarray(0, headerEnd(buf)).toString('latin1');
  const marker = markerName.toLowerCase();
  let received = 0;
  const markers: string[] = [];
  let current: { name: string; value: string } | undefined;
  const flush = (): void => {
    if (current?.name === marker) markers.push(current.value.trim());
  };
  for (const line of text.split('\r\n')) {
    if (line === '') break;
    if ((line[0] === ' ' || line[0] === '\t') && current) {
      current.value += line;
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    const name = (colon < 0 ? line : line.slice(0, colon)).trim().toLowerCase();
    current = { name, value: colon < 0 ? '' : line.slice(colon + 1) };
    if (name === 'received') received++;
  }
  flush();
  return { received, markers };
}

/** RFC 5322 date-time in UTC. */
export function rfc5322Date(at: Date): string {
  return at.toUTCString().replace(/GMT$/, '+0000');
}

export interface TraceInput {
  readonly helo: string;
  readonly clientHostname: string;
  readonly clientIp: string;
  readonly by: string;
  readonly id: string;
  readonly tls: boolean;
  readonly authenticated: boolean;
  readonly smtputf8: boolean;
  readonly recipient?: string;
  readonly at: Date;
}

const safe = (s: string): string => s.replace(/[^\x21-\x7e\u0080-\uffff]/g, '').replace(/[()\\;]/g, '') || 'unknown';

/** The Received: header this relay prepends (RFC 5321 §4.4), folded, with CRLF. */
export function receivedHeader(t: TraceInput): string {
  const proto = `${t.smtputf8 ? 'UTF8SMTP' : 'ESMTP'}${t.tls ? 'S' : ''}${t.authenticated ? 'A' : ''}`;
  const host = t.clientHostname && t.clientHostname !== `[${t.clientIp}]` ? `${safe(t.clientHostname)} ` : '';
  const forPart = t.recipient !== undefined ? `\r\n\tfor <${t.recipient}>` : '';
  return `Received: from ${safe(t.helo)} (${host}[${t.clientIp}])\r\n\tby ${t.by} (Switchyard) with ${proto} id ${t.id}${forPart};\r\n\t${rfc5322Date(t.at)}\r\n`;
}
