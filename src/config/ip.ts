/**
 * An IP literal's family, as `net.isIP` answers (zone index included), without
 * `net.isIPv6`'s regular expression: compiling it took ~10 ms of every command's start-up
 * (docs/benchmarks.md, session 27). test/unit/config-ip.test.ts compares the two.
 */
import { isIPv4, SocketAddress } from 'node:net';

const ZONE = /^[0-9a-zA-Z.:-]+$/;
/** What an IPv6 literal can hold before its zone; libuv reads the rest as a C string (a NUL ends it). */
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;

export function ipFamily(address: string): 0 | 4 | 6 {
  if (!address.includes(':')) return isIPv4(address) ? 4 : 0;
  const zone = address.indexOf('%'); // fe80::1%eth0
  if (zone >= 0 && !ZONE.test(address.slice(zone + 1))) return 0;
  const bare = zone >= 0 ? address.slice(0, zone) : address;
  if (!IPV6_CHARS.test(bare)) return 0;
  try {
    new SocketAddress({ address: bare, family: 'ipv6' }); // libuv's inet_pton
    return 6;
  } catch {
    return 0;
  }
}
