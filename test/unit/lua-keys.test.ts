/** Every key the table scripts touch comes from KEYS (issue 9): no key name is built in Lua. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const dir = join(import.meta.dirname, '..', '..', 'src', 'store', 'lua');

it.each(['lookup', 'publish', 'rollback', 'stage', 'apply-delta'])('%s.lua builds no key name and documents its key count', (name) => {
  const source = readFileSync(join(dir, `${name}.lua`), 'utf8');
  const code = source.slice(source.indexOf(']]'));
  expect(code).not.toMatch(/ARGV\[\d+\]\s*\.\./); // no key from an ARGV prefix
  expect(code).not.toMatch(/\.\.\s*'[:{]/); // no ":snap:" / ":table:" suffixes appended
  expect(code).not.toMatch(/prefix/);
  expect(source).toMatch(/Key count: variable/);
});
