/** Reads a secret named in the configuration (environment variable or file); never logs it. */
import { readFileSync } from 'node:fs';
import type { Config } from './schema.js';

export class SecretError extends Error {
  readonly code = 'SY_SECRET';
}

export function readSecret(
  ref: { env?: string | undefined; file?: string | undefined; key: string },
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (ref.env !== undefined) {
    const value = env[ref.env];
    if (value === undefined) throw new SecretError(`${ref.key}Env: environment variable ${ref.env} is not set`);
    if (value === '') throw new SecretError(`${ref.key}Env: environment variable ${ref.env} is empty`);
    return value;
  }
  if (ref.file !== undefined) {
    let value: string;
    try {
      value = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new SecretError(`${ref.key}File: cannot read ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    if (value === '') throw new SecretError(`${ref.key}File: ${ref.file} is empty`);
    return value;
  }
  return undefined;
}

const ANONYMOUS = 'an empty password is an anonymous bind in disguise (RFC 4513 §5.1.2)';

/**
 * Config-time secret checks (config check and start-up alike): a bind password that is
 * present but empty, in its variable or its file, is refused naming the key. A variable
 * not set or a file not readable here is left to the process that uses it (it may run
 * with other rights); it fails there with SY_SECRET.
 */
export function checkSecrets(config: Config, env: NodeJS.ProcessEnv = process.env): string[] {
  const problems: string[] = [];
  config.sources.forEach((s, i) => {
    if (s.type !== 'ldap' || s.bindDn === undefined) return;
    if (s.bindPasswordEnv !== undefined && env[s.bindPasswordEnv] === '') {
      problems.push(`sources[${i}].bindPasswordEnv: ${s.bindPasswordEnv} is set but empty; ${ANONYMOUS}`);
    }
    if (s.bindPasswordFile !== undefined) {
      let text: string | undefined;
      try {
        text = readFileSync(s.bindPasswordFile, 'utf8');
      } catch {
        text = undefined; // not readable by this process: checked where it is used
      }
      if (text !== undefined && text.replace(/\r?\n$/, '') === '') {
        problems.push(`sources[${i}].bindPasswordFile: ${s.bindPasswordFile} is empty; ${ANONYMOUS}`);
      }
    }
  });
  return problems;
}
