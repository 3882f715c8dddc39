/** Every key the table scripts touch comes from KEYS (issue 9): no key name is built in Lua. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';

const dir = join(import.meta.dirname, '..', '..', 'src', 'store', 'lua');

it.each(['lookup', 'target-lookup', 'publish', 'rollback', 'stage', 'apply-delta', 'mq-put', 'mq-cancel', 'trace-write'])(
  '%s.lua builds no key name and documents its key count',
  (name) => {
    const source = readFileSync(join(dir, `${name}.lua`), 'utf8');
    const code = source.slice(source.indexOf(']]'));
    expect(code).not.toMatch(/ARGV\[\d+\]\s*\.\./); // no key from an ARGV prefix
    expect(code).not.toMatch(/\.\.\s*'[:{]/); // no ":snap:" / ":table:" suffixes appended
    expect(code).not.toMatch(/prefix/);
    expect(source).toMatch(/Key count: variable/);
  },
);

it.each(['mq-adopt-5', 'mq-claim-2', 'mq-control-4', 'mq-finish-7', 'mq-retry-4', 'mq-reserve-3', 'mq-commit-4', 'mq-rename-6'])(
  '%s.lua takes every key from KEYS, as many as its name says',
  (name) => {
    const source = readFileSync(join(dir, `${name}.lua`), 'utf8');
    const code = source.slice(source.indexOf(']]'));
    expect(code).not.toMatch(/\.\.\s*'[:{]/); // no key suffix appended
    expect(code).not.toMatch(/redis\.call\('[A-Z]+', ARGV/); // no key taken from ARGV
    const count = Number(/-(\d+)$/.exec(name)?.[1]);
    const used = new Set([...code.matchAll(/KEYS\[(\d+)\]/g)].map((m) => Number(m[1])));
    expect(Math.max(...used)).toBeLessThanOrEqual(count);
  },
);
