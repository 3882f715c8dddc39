/**
 * Which job failures are worth a retry. Bad input, bad credentials, a refused guard or a
 * missing source fail at once (BullMQ UnrecoverableError); an unreachable directory or
 * Redis, or a lost publish race, is retried with backoff.
 */
import { ConfigError } from '../config/errors.js';
import { SecretError } from '../config/secrets.js';
import { CsvdeFileError } from '../directory/csvde/errors.js';
import { LdapSourceError } from '../directory/ldap/errors.js';
import { DeletionGuardError, InvalidInputError } from '../pipeline/errors.js';
import { SourceNotSyncableError } from '../pipeline/sync-source.js';

export function isPermanent(err: unknown): boolean {
  if (err instanceof LdapSourceError) return !err.transient;
  return (
    err instanceof DeletionGuardError ||
    err instanceof InvalidInputError ||
    err instanceof CsvdeFileError ||
    err instanceof SecretError ||
    err instanceof SourceNotSyncableError ||
    err instanceof ConfigError
  );
}
