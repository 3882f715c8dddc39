/** Reads a secret named in the configuration (environment variable or file); never logs it. */
import { readFileSync } from 'node:fs';

export class SecretError extends Error {
  readonly code = 'SY_SECRET';
}

export function readSecret(
  ref: { env?: string | undefined; file?: string | undefined; key: string },
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (ref.env !== undefined) {
    const value = env[ref.env];
    if (value === undefined || value === '') throw new SecretError(`${ref.key}Env: environment variable ${ref.env} is not set`);
    return value;
  }
  if (ref.file !== undefined) {
    try {
      return readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new SecretError(`${ref.key}File: cannot read ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return undefined;
}
