/**
 * Whether a connector's smart host is the relay's own listener (SPEC §5: config
 * validation refuses a connector pointing back at the relay, the shortest mail loop).
 */
import { networkInterfaces } from 'node:os';
import { splitHostPort } from './host-port.js';

const WILDCARD = new Set(['0.0.0.0', '::', '*']);
const LOOPBACK = (host: string): boolean => host === 'localhost' || host === '::1' || /^127\./.test(host);

export function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.toLowerCase());
  return out;
}

/** The relay names this machine goes by: its hostname and every local interface address. */
export function pointsAtListener(smartHost: string, listen: readonly string[], ownNames: ReadonlySet<string>): boolean {
  const target = splitHostPort(smartHost, 25);
  const isOwn = (host: string): boolean => LOOPBACK(host) || ownNames.has(host);
  return listen.some((l) => {
    const own = splitHostPort(l, 25);
    if (own.port !== target.port) return false;
    if (own.host === target.host) return true;
    if (WILDCARD.has(own.host)) return isOwn(target.host);
    // 127.0.0.1 and localhost are the same listener
    return LOOPBACK(own.host) && LOOPBACK(target.host) && (own.host === 'localhost' || target.host === 'localhost');
  });
}
