/** Errors of the publish pipeline, each with a stable code. None of them changes the table. */
import type { RowError } from './types.js';

export class InvalidInputError extends Error {
  readonly code = 'SY_INVALID_INPUT';
  constructor(
    readonly errors: readonly RowError[],
    readonly total: number,
  ) {
    const first = errors[0];
    super(
      `refused: ${total} invalid ${total === 1 ? 'entry' : 'entries'}${first ? `, first at ${first.origin}: ${first.reason}` : ''}; the table is unchanged (use --skip-invalid to publish the valid ones)`,
    );
  }
}

export class DeletionGuardError extends Error {
  readonly code = 'SY_DELETION_GUARD';
}

/** The staged snapshot holds other counts of objects or addresses than were staged: Redis lost writes meanwhile (a restart without them). Retried as a job. */
export class StagingLostError extends Error {
  readonly code = 'SY_STAGING_LOST';
}
