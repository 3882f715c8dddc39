/**
 * One temporary directory for the whole test run, removed at its end: TMPDIR points there
 * for the test processes and everything they start (redis-server, slapd, relays, the CLI), so
 * a temporary directory a test forgets, or cannot remove because its test failed, goes with
 * the run instead of piling up in /tmp (some 30 a run did, from as many tests). What is meant
 * to outlive runs (old releases built for the upgrade test) goes to SWITCHYARD_TEST_CACHE, the
 * temporary directory of before.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | undefined;
let before: string | undefined;

export function setup(): void {
  before = process.env.TMPDIR;
  process.env.SWITCHYARD_TEST_CACHE ??= tmpdir();
  dir = mkdtempSync(join(tmpdir(), 'switchyard-run-'));
  chmodSync(dir, 0o1777); // as /tmp: daemons that drop privileges (Postfix) reach their directories
  process.env.TMPDIR = dir; // read by os.tmpdir() in the test processes, forked after this
}

export function teardown(): void {
  if (before === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = before;
  if (dir) rmSync(dir, { recursive: true, force: true });
}
