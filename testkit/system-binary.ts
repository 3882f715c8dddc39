import { existsSync } from 'node:fs';

/** Debian puts daemons (slapd, samba, ip) in /usr/sbin, which a non-root PATH may lack. */
export function systemBinary(name: string): string {
  for (const dir of ['/usr/sbin', '/sbin']) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return name;
}
