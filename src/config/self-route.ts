/**
 * Whether a connector's smart host is the relay's own listener (SPEC §5: config
 * validation refuses a connector pointing back at the relay, the shortest mail loop).
 * Hosts are compared as the addresses they stand for, not as spelled: `127.1`,
 * `[::ffff:127.0.0.1]`, `0.0.0.0` (a connect to it reaches this machine) and `LOCALHOST.`
 * all name this machine. Other host names are compared with relay.hostname and the local
 * interface addresses (no DNS lookup at validation time).
 */
import { networkInterfaces } from 'node:os';
import { splitHostPort } from './host-port.js';
import { ipFamily } from './ip.js';

export function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(canonicalHost(a.address));
  return out;
}

/**
 * The address a host stands for, in one spelling: IPv4 shorthand and hex forms in dotted
 * quad (the WHATWG URL parser's reading, which is what inet_aton accepts), IPv6 compressed,
 * IPv4-mapped IPv6 as IPv4, names lower-cased without a trailing dot, `localhost` as 127.0.0.1.
 */
export function canonicalHost(host: string): string {
  const bare = host
    .replace(/^\[|\]$/g, '')
    .toLowerCase()
    .replace(/\.$/, '');
  if (bare === 'localhost' || bare.endsWith('.localhost')) return '127.0.0.1';
  let parsed = bare;
  try {
    parsed = new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return bare;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(parsed);
  if (mapped) {
    const hi = parseInt(mapped[1] ?? '0', 16);
    const lo = parseInt(mapped[2] ?? '0', 16);
    return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
  }
  return parsed;
}

const isWildcard = (a: string): boolean => a === '0.0.0.0' || a === '::' || a === '*';
const isLoopback = (a: string): boolean => a === '::1' || (ipFamily(a) === 4 && a.startsWith('127.'));

export function pointsAtListener(smartHost: string, listen: readonly string[], ownNames: ReadonlySet<string>): boolean {
  const target = splitHostPort(smartHost, 25);
  const to = canonicalHost(target.host);
  const own = new Set([...ownNames].map(canonicalHost));
  // where a connection to `to` lands: this machine when loopback, wildcard or one of its own
  const local = isLoopback(to) || isWildcard(to) || own.has(to);
  return listen.some((l) => {
    const listener = splitHostPort(l, 25);
    if (listener.port !== target.port) return false;
    const at = canonicalHost(listener.host);
    if (at === to) return true;
    if (isWildcard(at)) return local;
    // a loopback listener takes what is sent to loopback (or to 0.0.0.0, which reaches it)
    return isLoopback(at) && (isLoopback(to) || isWildcard(to));
  });
}

/**
 * The same check for smart hosts given by name, on the addresses the name resolves to now
 * (a name in /etc/hosts or DNS for 127.0.0.1 or this machine). Names that do not resolve are
 * left alone (delivery retries them); each lookup gives up after `timeoutMs`.
 */
export async function selfRoutesByName(
  connectors: readonly { smartHosts: readonly string[] }[],
  listen: readonly string[],
  ownNames: ReadonlySet<string>,
  timeoutMs = 2000,
): Promise<string[]> {
  const { lookup } = await import('node:dns/promises');
  const problems: string[] = [];
  await Promise.all(
    connectors.flatMap((c, i) =>
      c.smartHosts.map(async (h, j) => {
        const { host, port } = splitHostPort(h, 25);
        if (ipFamily(host.replace(/^\[|\]$/g, '')) !== 0) return;
        const timeout = new Promise<[]>((resolve) => setTimeout(() => resolve([]), timeoutMs).unref());
        const found = await Promise.race([lookup(host, { all: true }).catch(() => []), timeout]);
        const own = found.find((a) => pointsAtListener(`[${a.address}]:${port}`, listen, ownNames));
        if (own) {
          problems.push(
            `connectors[${i}].smartHosts[${j}]: "${h}" resolves to ${own.address}, this relay's own listener (relay.listen); mail would loop`,
          );
        }
      }),
    ),
  );
  return problems;
}
