import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ipFamily } from '../../src/config/ip.js';

/** A small seeded generator (mulberry32): the same cases on every run. */
function seeded(seed: number): (n: number) => number {
  let a = seed;
  return (n) => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

/** Near-addresses: 0–9 hex groups, sometimes a dotted quad, a `::`, a zone, then 0–2 edits. */
function nearAddress(r: (n: number) => number): string {
  const groups = Array.from({ length: r(10) }, () =>
    r(0x10000)
      .toString(16)
      .slice(0, 1 + r(4)),
  );
  if (r(3) === 0) groups.push(`${r(300)}.${r(300)}.${r(256)}.${r(256)}`);
  let s = groups.join(':');
  if (r(2)) {
    const at = r(s.length + 1);
    s = `${s.slice(0, at)}::${s.slice(at)}`;
  }
  if (r(4) === 0) s += `%${['eth0', '', '1', 'a b', 'x%y', 'en0.1', ':'][r(7)]}`;
  for (let m = r(3); m > 0; m--) {
    const at = r(s.length + 1);
    const c = '0123456789abcdefg:.%'[r(20)] as string;
    s = r(2) ? s.slice(0, at) + c + s.slice(at + 1) : s.slice(0, at) + s.slice(at + 1);
  }
  return s;
}

describe('ipFamily', () => {
  it('answers as net.isIP on hand-picked literals', () => {
    const cases = ['::1', '::', '2001:db8::', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1::2::3', ':1', '1:', 'g::1'];
    cases.push('::ffff:1.2.3.4', '::ffff:300.2.3.4', '::1.2.3.4', 'fe80::1%eth0', 'fe80::1%', 'fe80::1%a b', 'fe80::1%25eth0');
    cases.push('1.2.3.4', '01.2.3.4', '1.2.3', '1.2.3.4:25', '2001:db8::/32', '[::1]', 'localhost', '');
    cases.push('::1\0x', '::ffff:1.2.3.4\0x', '::1 ', ' ::1', 'fe80::1%eth0\0');
    expect(cases.map(ipFamily)).toEqual(cases.map(isIP));
  });

  it('answers as net.isIP on 200,000 generated near-addresses, one in seven of them valid IPv6', () => {
    const r = seeded(27);
    const differ: string[] = [];
    let valid = 0;
    for (let i = 0; i < 200_000; i++) {
      const s = nearAddress(r);
      const family = isIP(s);
      if (family === 6) valid++;
      if (ipFamily(s) !== family) differ.push(s);
    }
    expect(differ).toEqual([]);
    expect(valid).toBeGreaterThan(20_000);
  });
});
