/** `switchyard passwd USER`: reads a password on stdin, prints the line for relay.auth.usersFile. */
import { hashPassword } from '../relay/auth.js';
import { UsageError } from './usage-error.js';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

export async function passwdCommand(user: string): Promise<number> {
  if (!/^[^\s:]+$/.test(user)) throw new UsageError('passwd: a user name has no spaces or colons');
  const password = await readStdin();
  if (password.length < 8) throw new UsageError('passwd: give a password of at least 8 characters on stdin');
  process.stdout.write(`${user}:${await hashPassword(password)}\n`);
  return 0;
}
