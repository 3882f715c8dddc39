/**
 * An import or sync that published but whose run record could not be written (Redis lost under
 * it after every resend, src/store/runs.ts): said on stderr, not failed, since the table is
 * published; `status` shows the previous run until the next one. The worker logs
 * SY_RUN_RECORD_FAILED instead (jobs/context.ts).
 */
export function runNotRecorded(err: unknown): void {
  process.stderr.write(`switchyard: the run finished but was not recorded (status shows the previous run): ${String(err)}\n`);
}
