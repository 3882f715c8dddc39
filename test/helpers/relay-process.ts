/** `switchyard relay` in a process of its own (the built CLI), for tests that kill it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { projectRoot } from '../../src/main/paths.js';

export interface RelayProcess {
  readonly proc: ChildProcess;
  /** The line the relay printed when it started listening. */
  readonly banner: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** `bin`: another build's entry point (the upgrade test runs a previous release); `args`: more flags. */
export async function spawnRelay(
  configFile: string,
  env: NodeJS.ProcessEnv = {},
  bin = join(projectRoot(), 'bin', 'switchyard.js'),
  args: readonly string[] = [],
): Promise<RelayProcess> {
  const proc = spawn(process.execPath, [bin, 'relay', '--config', configFile, ...args], {
    env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const banner = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`relay did not start within 20 s: ${stderr}`)), 20_000);
    proc.stdout?.on('data', (d: Buffer) => {
      const line = d
        .toString()
        .split('\n')
        .find((l) => l.includes('relay listening on'));
      if (line !== undefined) {
        clearTimeout(t);
        resolve(line);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`relay exited (${code}) before listening: ${stderr}`));
    });
  });
  return {
    proc,
    banner,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/**
 * The test's config file with another listener and hostname, for a second relay or one
 * restarted after a kill: the hostname is its EHLO name at the next hops, so a sink can
 * tell which relay delivered each copy.
 */
export function relayVariant(configFile: string, hostname: string, port: number): string {
  const raw = parse(readFileSync(configFile, 'utf8')) as { relay: Record<string, unknown> };
  raw.relay = { ...raw.relay, listen: [`127.0.0.1:${port}`], hostname };
  const file = join(dirname(configFile), `${hostname}.yaml`);
  writeFileSync(file, stringify(raw));
  return file;
}
