/** The layer order of docs/architecture.md: a module imports only from its own layer or below. */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Bottom first; the directories of one row may import each other. */
const LAYERS: readonly (readonly string[])[] = [
  ['src/config', 'src/log', 'src/cache'],
  ['src/routing'],
  ['src/directory'],
  ['src/store'],
  ['src/pipeline', 'src/resolver', 'src/message', 'src/contacts'],
  ['src/jobqueue', 'src/mailqueue', 'src/trace', 'src/audit'],
  ['src/delivery'],
  ['src/relay'],
  ['src/metrics', 'src/report', 'src/admin', 'src/upgrade', 'src/mailflow'],
  ['jobs'],
  ['src/main'],
  ['src/cli'],
];

function layerOf(file: string): number {
  const rel = relative(root, file);
  const i = LAYERS.findIndex((dirs) => dirs.some((d) => rel === d || rel.startsWith(`${d}/`)));
  if (i < 0) throw new Error(`${rel} is in no layer of docs/architecture.md`);
  return i;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('layers', () => {
  it('no module of src/ or jobs/ imports from a layer above its own, nor from test/, testkit/ or bench/', () => {
    const upward: string[] = [];
    for (const file of [...sources(join(root, 'src')), ...sources(join(root, 'jobs'))]) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
        const target = resolve(dirname(file), m[1] ?? '');
        const rel = relative(root, target);
        if (/^(test|testkit|bench)\//.test(rel)) {
          upward.push(`${relative(root, file)} → ${rel}`);
          continue;
        }
        if (layerOf(target) > layerOf(file)) upward.push(`${relative(root, file)} → ${rel}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
