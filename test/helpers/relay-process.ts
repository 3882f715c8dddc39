/** `switchyard relay` in a process of its own (the built CLI), for tests that kill it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot } from '../../src/main/paths.js';

export interface RelayProcess {
  readonly proc: ChildProcess;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function spawnRelay(configFile: string, env: NodeJS.ProcessEnv = {}): Promise<RelayProcess> {
  const proc = spawn(process.execPath, [join(projectRoot(), 'bin', 'switchyard.js'), 'relay', '--config', configFile], {
    env: { ...process.env, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', REDIS_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`relay did not start within 20 s: ${stderr}`)), 20_000);
    proc.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('relay listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`relay exited (${code}) before listening: ${stderr}`));
    });
  });
  return {
    proc,
    async kill(signal = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}
