/** Which clients may relay to domains that are not accepted (SPEC §4 step 3). */
import { BlockList, isIPv4, isIPv6 } from 'node:net';

export interface TrustedNetworks {
  has(ip: string): boolean;
}

export function trustedNetworks(cidrs: readonly string[]): TrustedNetworks {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [addr = '', bits] = cidr.split('/');
    const family = isIPv6(addr) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return {
    has(ip) {
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip)?.[1];
      const v4 = mapped ?? ip;
      if (isIPv4(v4)) return list.check(v4, 'ipv4');
      return isIPv6(ip) && list.check(ip, 'ipv6');
    },
  };
}
