/**
 * LDAP failures, split by what a job should do about them: `transient` ones (server down,
 * timeout, busy) are retried with backoff; the others (bad credentials, bad base DN or
 * filter, TLS trust) fail at once with a reason naming the source.
 */
export class LdapSourceError extends Error {
  readonly code: string;
  constructor(
    readonly source: string,
    message: string,
    readonly transient: boolean,
    code: string,
  ) {
    super(`source ${source}: ${message}`);
    this.code = code;
  }
}

/** The delta watermark cannot be used (another DC, or a restored one): run a full sync. */
export class WatermarkInvalidError extends Error {
  readonly code = 'SY_WATERMARK_INVALID';
}
