/**
 * The CLI's first contact stays light: `switchyard --help` loads commander and nothing of
 * the service; `resolve` and `status` do not load the job queues, the relay or the admin
 * server. Walks the static (value) imports of the sources.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Packages a module loads at import time, following its relative imports (`import type` excluded). */
function packagesLoaded(entry: string): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const walk = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^import (?!type )[^'";]*?(?:from )?'([^']+)';/gm)) {
      const spec = m[1] ?? '';
      if (spec.startsWith('.')) walk(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
      else if (!spec.startsWith('node:'))
        packages.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : (spec.split('/')[0] ?? spec));
    }
  };
  walk(join(root, entry));
  return packages;
}

describe('CLI start-up imports', () => {
  it('the command line itself loads only commander', () => {
    expect([...packagesLoaded('src/cli/main.ts')]).toEqual(['commander']);
  });

  it('resolve and status load no job queue, relay, mailer or web server', () => {
    const loaded = packagesLoaded('src/cli/table-commands.ts');
    for (const heavy of [
      'bullmq',
      'express',
      '@bull-board/api',
      '@bull-board/express',
      'smtp-server',
      'nodemailer',
      'prom-client',
      'pino',
      'ldapts',
    ]) {
      expect(loaded.has(heavy), heavy).toBe(false);
    }
  });

  it('import loads neither BullMQ nor pino up front (a queued import and an info line load them when used)', () => {
    const loaded = packagesLoaded('src/cli/import-command.ts');
    for (const heavy of ['bullmq', 'pino', 'express', 'smtp-server', 'nodemailer', 'ldapts']) expect(loaded.has(heavy), heavy).toBe(false);
  });
});
