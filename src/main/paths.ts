/** The project's own files (Lua scripts, demo fixtures), found whether code runs from src/ or dist/src/. */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

export function projectRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the Switchyard package root');
    dir = up;
  }
  root = dir;
  return dir;
}

/** Debian puts daemons (slapd, samba, ip) in /usr/sbin, which a non-root PATH may lack. */
export function systemBinary(name: string): string {
  for (const dir of ['/usr/sbin', '/sbin']) if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  return name;
}
