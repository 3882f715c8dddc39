/**
 * The README's main-job command, `npm start`, end to end on the embedded default: a
 * private Redis, the demo organisation, the relay and demo mail systems, sample messages,
 * then "ready" with a status page that answers. Stopped with SIGTERM.
 */
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/main/paths.js';

describe('npm start', () => {
  it('reaches ready with every sample where it belongs, serves the status page, and stops on SIGTERM', async () => {
    const child = spawn('npm', ['start', '--silent'], {
      cwd: projectRoot(),
      env: { ...process.env, REDIS_URL: '' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`not ready within 90 s:\n${out}`)), 90_000);
        const check = (): void => {
          const m = /^ready: status page (http:\/\/127\.0\.0\.1:\d+\/)/m.exec(out);
          if (m?.[1]) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        };
        child.stdout.on('data', check);
        void exited.then((code) => reject(new Error(`npm start exited (${code}) before ready:\n${out}`)));
      });
      expect(out).toMatch(/private redis-server on redis:\/\/127\.0\.0\.1:\d+, append-only file on/);
      expect(out).toContain('landed at:  on-premises system, RCPT TO <Ada.Lovelace@contoso.edu>');
      expect(out).toContain('landed at:  cloud system, RCPT TO <ada.ivanov@live.contoso.edu>');
      expect(out).toContain('landed at:  cloud system, RCPT TO <s100007@contoso.edu>');
      expect(out).toContain('landed at:  next-hop system, RCPT TO <nobody@contoso.edu>');
      expect(out).toContain('relay said: 550 5.1.1 Recipient address rejected: user unknown');
      expect(out).toContain('landed at:  internet system, RCPT TO <friend@example.org>');
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<title>Switchyard');
      expect(await (await fetch(`${url}healthz`)).json()).toEqual({
        status: 'ready',
        redis: 'ok',
        tableVersion: 2,
        complete: true,
        missingSources: [],
        staleSources: [],
      });
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGTERM');
    }
    // npm passes the signal on; the demo drains, stops its Redis and exits
    expect(['0', 'SIGTERM']).toContain(
      await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running after 15 s'), 15_000))]),
    );
  });
});
