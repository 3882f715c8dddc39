/** Which clients may relay to domains that are not accepted (SPEC §4 step 3). */
import { BlockList, isIPv4 } from 'node:net';
import { boundedMemo } from '../cache/bounded-memo.js';
import { ipFamily } from '../config/ip.js';

export interface TrustedNetworks {
  has(ip: string): boolean;
}

/** Client addresses whose answer is kept (then the cache starts again). */
const CACHED_CLIENTS = 4096;

export function trustedNetworks(cidrs: readonly string[]): TrustedNetworks {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr = '', bits] = cidr.split('/');
    const family = ipFamily(addr) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  const check = (ip: string): boolean => {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
    const v4 = mapped ?? ip;
    if (isIPv4(v4)) return list.check(v4, 'ipv4');
    return ipFamily(ip) === 6 && list.check(ip, 'ipv6');
  };
  // Answers by client address: BlockList.check builds a SocketAddress per call (1.7 µs on an
  // idle machine, 22 µs a RCPT in a loaded relay's profile), and a relay sees the same few
  // clients over and over. The list never changes (a reload builds another), so a cached
  // answer is exact.
  return { has: boundedMemo(check, CACHED_CLIENTS) };
}
