/** The built CLI (`bin/switchyard.js`) in a process of its own, as an operator runs it. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/main/paths.js';

export const BIN = join(projectRoot(), 'bin', 'switchyard.js');

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `switchyard ARGS --config FILE` (REDIS_URL cleared: the file names the test's Redis);
 * with `timeoutMs`, a command still running then is killed (its code is then not 0).
 */
export function runCli(args: readonly string[], configFile: string, opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const options = { env: { ...process.env, REDIS_URL: '' }, ...(opts.timeoutMs ? { timeout: opts.timeoutMs } : {}) };
    execFile(process.execPath, [BIN, ...args, '--config', configFile], options, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
