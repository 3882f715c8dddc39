/**
 * SMTP AUTH for submitting clients (relay.auth): a user authenticated over TLS may relay to
 * domains that are not accepted, like a client in relay.trustedNetworks. Users live in a
 * file of `user:scrypt$<salt>$<hash>` lines (base64url), made with `switchyard passwd`.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCb) as (password: string, salt: Buffer, keylen: number) => Promise<Buffer>;
const KEYLEN = 32;

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, KEYLEN);
  return `scrypt$${salt.toString('base64url')}$${hash.toString('base64url')}`;
}

export class UsersFileError extends Error {
  readonly code = 'SY_CONFIG';
}

/** Parses the users file; every bad line is an error naming file and line. */
export function readUsers(file: string): Map<string, string> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsersFileError(`relay.auth.usersFile: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const users = new Map<string, string>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const hash = line.slice(colon + 1);
    if (colon <= 0 || !/^scrypt\$[\w-]+\$[\w-]+$/.test(hash))
      throw new UsersFileError(`${file}:${i + 1}: expected user:scrypt$salt$hash (from switchyard passwd)`);
    users.set(line.slice(0, colon), hash);
  });
  return users;
}

export async function verifyPassword(users: ReadonlyMap<string, string>, user: string, password: string): Promise<boolean> {
  const stored = users.get(user);
  // an unknown user costs the same scrypt as a known one
  const [, saltB64 = '', hashB64 = ''] = (stored ?? `scrypt$${'A'.repeat(22)}$${'A'.repeat(43)}`).split('$');
  const expected = Buffer.from(hashB64, 'base64url');
  const actual = await scrypt(password, Buffer.from(saltB64, 'base64url'), KEYLEN);
  return stored !== undefined && expected.length === actual.length && timingSafeEqual(expected, actual);
}
