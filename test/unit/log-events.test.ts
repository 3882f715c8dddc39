/** docs/log-events.md lists exactly the event codes the sources log. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('docs/log-events.md', () => {
  it('lists every event code logged under src/ and jobs/, and no other', () => {
    const logged = new Set<string>();
    for (const file of [...sources(join(root, 'src')), ...sources(join(root, 'jobs'))]) {
      const text = readFileSync(file, 'utf8');
      // `event: 'SY_…'` and `event: cond ? 'SY_A' : 'SY_B'`
      for (const m of text.matchAll(/event: ([^,}\n]+)/g)) for (const c of (m[1] ?? '').matchAll(/'(SY_[A-Z_]+)'/g)) logged.add(c[1] ?? '');
    }
    const doc = readFileSync(join(root, 'docs', 'log-events.md'), 'utf8');
    const listed = new Set([...doc.matchAll(/^\| `(SY_[A-Z_]+)` \|/gm)].map((m) => m[1] ?? ''));
    expect([...logged].sort()).toEqual([...listed].sort());
  });
});
