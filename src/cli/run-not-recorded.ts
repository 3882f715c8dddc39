/**
 * An import or sync that published but whose run record was not confirmed (the connection
 * closed under it after every resend, src/store/runs.ts; Redis may still have written it):
 * said on stderr, not failed, since the table is published; `status` may show the previous
 * run until the next one. The worker logs SY_RUN_RECORD_FAILED instead (jobs/context.ts).
 */
export function runNotRecorded(err: unknown): void {
  process.stderr.write(
    `switchyard: the run finished but its record was not confirmed (status may show the previous run): ${String(err)}\n`,
  );
}
