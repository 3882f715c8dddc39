/**
 * HAProxy PROXY protocol v1 and v2 in front of the SMTP server (relay.proxyProtocol, SPEC
 * §5 Trust): a connection from a listed load balancer must start with a PROXY header, and
 * the session's address — what trust, limits and logs use — is the client's from that
 * header. smtp-server's own `useProxy` reads v1 only (cloud balancers send v2), so the
 * relay accepts on its own net.Server, reads the header here and hands the socket to
 * smtp-server's public `connect(socket, { remoteAddress, remotePort })`.
 *
 * A LOCAL header (v2 LOCAL command, v1 `PROXY UNKNOWN`: the balancer's health check) is
 * served as a connection from the balancer itself. A connection from an address that is not
 * listed is served with its own address and no header is read: a PROXY line it sends is an
 * unknown SMTP command (refused), and its claimed address is never used.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { SMTPServer } from 'smtp-server';
import { parseDuration } from '../config/duration.js';
import type { Logger } from '../log/logger.js';
import { trustedNetworks } from './trust.js';

export interface ProxiedAddress {
  readonly address: string;
  readonly port: number;
}

export type ProxyHeader =
  | { readonly kind: 'incomplete' }
  | { readonly kind: 'invalid'; readonly reason: string }
  /** `source` absent: LOCAL (health check) or an address family without addresses. */
  | { readonly kind: 'ok'; readonly length: number; readonly source?: ProxiedAddress };

const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_MAX = 107;
const V2_MAX_BODY = 2048; // addresses and TLVs; a real header is far smaller

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf('\r\n');
  if (end === -1) return buf.length >= V1_MAX ? { kind: 'invalid', reason: 'v1 header without CRLF' } : { kind: 'incomplete' };
  if (end + 2 > V1_MAX) return { kind: 'invalid', reason: 'v1 header too long' };
  const parts = buf.subarray(0, end).toString('latin1').split(' ');
  if (parts[1] === 'UNKNOWN') return { kind: 'ok', length: end + 2 };
  const [, family, src = '', , sport = ''] = parts;
  if (parts.length !== 6 || (family !== 'TCP4' && family !== 'TCP6')) return { kind: 'invalid', reason: 'malformed v1 header' };
  const port = Number(sport);
  const addressOk = family === 'TCP4' ? IPV4.test(src) : /^[0-9a-fA-F:.]+$/.test(src) && src.includes(':');
  if (!addressOk || !/^\d{1,5}$/.test(sport) || port > 65_535) return { kind: 'invalid', reason: 'bad v1 address or port' };
  return { kind: 'ok', length: end + 2, source: { address: src.toLowerCase(), port } };
}

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // compressed form, like node's net addresses
  const text = groups.join(':');
  const zeros = /(?:^|:)0(?::0)+(?::|$)/g;
  let longest = '';
  for (const m of text.matchAll(zeros)) if (m[0].length > longest.length) longest = m[0];
  return longest === '' ? text : text.replace(longest, '::');
}

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) return { kind: 'incomplete' };
  const verCmd = buf[12] ?? 0;
  const family = buf[13] ?? 0;
  const length = buf.readUInt16BE(14);
  if (verCmd >> 4 !== 2) return { kind: 'invalid', reason: 'not PROXY protocol version 2' };
  if (length > V2_MAX_BODY) return { kind: 'invalid', reason: 'v2 header too long' };
  if (buf.length < 16 + length) return { kind: 'incomplete' };
  const command = verCmd & 0x0f;
  if (command === 0x0) return { kind: 'ok', length: 16 + length }; // LOCAL: the balancer's own connection
  if (command !== 0x1) return { kind: 'invalid', reason: 'unknown v2 command' };
  const body = buf.subarray(16, 16 + length);
  if (family === 0x11 && length >= 12) {
    return { kind: 'ok', length: 16 + length, source: { address: [...body.subarray(0, 4)].join('.'), port: body.readUInt16BE(8) } };
  }
  if (family === 0x21 && length >= 36) {
    return { kind: 'ok', length: 16 + length, source: { address: ipv6(body.subarray(0, 16)), port: body.readUInt16BE(32) } };
  }
  if (family === 0x00) return { kind: 'ok', length: 16 + length }; // UNSPEC
  return { kind: 'invalid', reason: 'v2 address family not TCP over IPv4/IPv6' };
}

/** Reads a PROXY header (v1 or v2) at the start of `buf`. */
export function parseProxyHeader(buf: Buffer): ProxyHeader {
  const probe = Math.min(buf.length, V2_SIGNATURE.length);
  if (buf.subarray(0, probe).equals(V2_SIGNATURE.subarray(0, probe))) {
    return buf.length < V2_SIGNATURE.length ? { kind: 'incomplete' } : parseV2(buf);
  }
  const v1 = Math.min(buf.length, 6);
  if (buf.subarray(0, v1).toString('latin1') === 'PROXY '.slice(0, v1)) return v1 < 6 ? { kind: 'incomplete' } : parseV1(buf);
  return { kind: 'invalid', reason: 'no PROXY header' };
}

export interface ProxyListenerOptions {
  /** Whether a peer is a listed load balancer. */
  readonly fromBalancer: (ip: string) => boolean;
  /** How long a balancer may take to send its header. */
  readonly headerTimeoutMs: number;
  /** Hands the socket on; `client` is the proxied client (absent: the peer itself). */
  readonly serve: (socket: Socket, client?: ProxiedAddress) => void;
  /** A balancer's connection that was closed for a bad or missing header. */
  readonly refused: (peer: string, reason: string) => void;
}

/** A net.Server that reads the PROXY header of balancers' connections before serving them. */
export function proxyListener(o: ProxyListenerOptions): Server {
  return createServer({ pauseOnConnect: true }, (socket) => {
    socket.on('error', () => undefined); // a reset before the session exists
    const peer = socket.remoteAddress ?? '';
    if (!o.fromBalancer(peer)) {
      socket.resume();
      o.serve(socket);
      return;
    }
    let buffered = Buffer.alloc(0);
    const refuse = (reason: string): void => {
      cleanup();
      o.refused(peer, reason);
      socket.destroy();
    };
    const timer = setTimeout(() => refuse('no PROXY header in time'), o.headerTimeoutMs);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const header = parseProxyHeader(buffered);
      if (header.kind === 'incomplete') return;
      if (header.kind === 'invalid') return refuse(header.reason);
      cleanup();
      socket.pause();
      const rest = buffered.subarray(header.length);
      if (rest.length > 0) socket.unshift(rest);
      o.serve(socket, header.source);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
    };
    socket.on('data', onData);
    socket.once('close', () => clearTimeout(timer));
    socket.resume();
  });
}

/** The listeners of a relay behind load balancers: one PROXY-reading listener per SMTP server (relay.proxyProtocol). */
export function proxyListeners(
  servers: readonly SMTPServer[],
  proxy: { readonly from: readonly string[]; readonly headerTimeout: string },
  logger: Logger,
): Server[] {
  const balancers = trustedNetworks(proxy.from);
  const listeners = servers.map((s) =>
    proxyListener({
      fromBalancer: (ip) => balancers.has(ip),
      headerTimeoutMs: parseDuration(proxy.headerTimeout),
      serve: (socket, client) => s.connect(socket, client ? { remoteAddress: client.address, remotePort: client.port } : {}),
      refused: (peer, reason) =>
        logger.warn({ event: 'SY_PROXY_REFUSED', peer, reason }, 'load balancer connection without a valid PROXY header'),
    }),
  );
  for (const l of listeners)
    l.on('error', (err) => logger.error({ event: 'SY_SMTP_SERVER_ERROR', err: String(err) }, 'SMTP listener error'));
  return listeners;
}
