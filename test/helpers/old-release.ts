/**
 * A previous release of Switchyard, built from this repository's own history, for the
 * upgrade-in-place test (SPEC §5): what it leaves in Redis the current release must read.
 * The release is extracted with `git archive` (no worktree bookkeeping left behind) into a
 * cache folder keyed by its commit, shares this checkout's node_modules and is compiled
 * with its own tsconfig. A repository without that commit fails the test: never a skip.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from '../../src/main/paths.js';

/** The last release with the unsharded layout (one `{ns}` tag for table and queue): issue 4's landing. */
export const UNSHARDED_RELEASE = '8f231439108a5e3cc69bad82875cf995e5fe6247';
/** The last release of layout 2 (sharded queue, message data held whole): issues 9 and 10's landing. */
export const WHOLE_MESSAGE_RELEASE = '42e892282e4de54092acc2ce262979d8fd97a26a';

export interface OldRelease {
  readonly dir: string;
  readonly bin: string;
  /** Runs a CLI command of the old release; returns stdout, throws with stderr on a non-zero exit. */
  cli(args: readonly string[]): string;
}

/**
 * The cached build runs with this checkout's packages: a cache made by another checkout (a
 * worktree since removed) links to packages that may be gone, so the link is renewed.
 */
function linkPackages(dir: string, packages: string): void {
  const link = join(dir, 'node_modules');
  let current: string | undefined;
  try {
    current = readlinkSync(link);
  } catch {
    current = undefined;
  }
  if (current === packages) return;
  rmSync(link, { force: true });
  try {
    symlinkSync(packages, link, 'dir');
  } catch (err) {
    // another test file renewed it at the same moment
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

export function prepareRelease(commit: string = UNSHARDED_RELEASE): OldRelease {
  const root = projectRoot();
  // kept between runs: outside the run's own temporary directory (test/helpers/run-tmpdir.ts)
  const dir = join(process.env.SWITCHYARD_TEST_CACHE ?? tmpdir(), `switchyard-release-${commit.slice(0, 12)}`);
  const stamp = join(dir, 'dist', '.build-stamp');
  if (!existsSync(stamp)) {
    const found = spawnSync('git', ['-C', root, 'cat-file', '-e', `${commit}^{commit}`]);
    if (found.status !== 0)
      throw new Error(`release ${commit} is not in this repository's history (a shallow clone?): fetch it to run the upgrade test`);
    const staging = `${dir}.${process.pid}`;
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging, { recursive: true });
    execFileSync('sh', ['-c', `git -C "$1" archive "$2" | tar -x -C "$3"`, 'sh', root, commit, staging]);
    symlinkSync(join(root, 'node_modules'), join(staging, 'node_modules'), 'dir');
    // the release's own build script (later releases copy Lua files and bundle the CLI too)
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: staging, stdio: 'pipe' });
    execFileSync('touch', [join(staging, 'dist', '.build-stamp')]);
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  }
  linkPackages(dir, join(root, 'node_modules'));
  const bin = join(dir, 'bin', 'switchyard.js');
  return {
    dir,
    bin,
    cli(args) {
      const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, REDIS_URL: '' } });
      if (r.status !== 0) throw new Error(`old release: switchyard ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
      return r.stdout;
    },
  };
}
