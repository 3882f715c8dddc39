/**
 * Secrets never reach a log line (src/log/logger.ts): the top-level keys and paths pino redacts,
 * and `password` / `bindPassword` one level down under any key, which `censorNested` does
 * instead of pino's wildcard paths. Each line goes through a real pino logger with the
 * product's options and is read back as JSON.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { CENSOR, censoredChildren, censorNested, loggerOptions } from '../../src/log/logger.js';

function logged(obj: Record<string, unknown>, msg = 'line'): Record<string, unknown> {
  const lines: string[] = [];
  const log = pino(loggerOptions('test', 'info'), { write: (line: string) => void lines.push(line) });
  log.info(obj, msg);
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] as string) as Record<string, unknown>;
}

describe('log redaction', () => {
  it('censors the top-level keys and paths', () => {
    const line = logged({
      password: 'p1',
      bindPassword: 'p2',
      token: 't',
      auth: { pass: 'p3', user: 'u' },
      redis: { url: 'redis://:pw@h' },
    });
    expect(line).toMatchObject({
      password: CENSOR,
      bindPassword: CENSOR,
      token: CENSOR,
      auth: { pass: CENSOR, user: 'u' },
      redis: { url: CENSOR },
    });
  });

  it('censors password and bindPassword one level down under any key, and keeps the rest', () => {
    const source = { name: 'corp', url: 'ldaps://dc', bindDn: 'cn=svc', bindPassword: 'secret' };
    const smtp = { host: 'h', password: 'secret2' };
    const obj = { event: 'SY_X', source, smtp, n: 3, list: ['password'] };
    const line = logged(obj);
    expect(line).toMatchObject({
      event: 'SY_X',
      source: { name: 'corp', url: 'ldaps://dc', bindDn: 'cn=svc', bindPassword: CENSOR },
      smtp: { host: 'h', password: CENSOR },
      n: 3,
      list: ['password'],
    });
    expect(JSON.stringify(line)).not.toContain('secret');
    // the caller's objects are not changed
    expect(source.bindPassword).toBe('secret');
    expect(smtp.password).toBe('secret2');
    expect(obj.source).toBe(source);
  });

  it('censors a key set to undefined, and shadows an inherited or hidden one without showing it, as pino did', () => {
    const hidden = Object.defineProperty({ a: 1 }, 'password', { value: 'secret', enumerable: false });
    const inherited = Object.create({ password: 'secret' }) as object;
    const line = logged({ hidden, inherited, empty: { password: undefined } });
    expect(line).toEqual(expect.objectContaining({ hidden: { a: 1 }, inherited: {}, empty: { password: CENSOR } }));
    const out = censorNested({ hidden, inherited });
    expect((out.hidden as { password: string }).password).toBe(CENSOR);
    expect((out.inherited as { password: string }).password).toBe(CENSOR);
  });

  it('keeps an Error an Error, its message and stack with it', () => {
    const err = Object.assign(new Error('bind failed'), { bindPassword: 'secret' });
    const line = logged({ err });
    expect(line.err).toMatchObject({ type: 'Error', message: 'bind failed', bindPassword: CENSOR });
    expect(String((line.err as { stack: string }).stack)).toContain('bind failed');
    expect(err.bindPassword).toBe('secret');
  });

  it('returns the same object when nothing is to be censored (no copy per line)', () => {
    const obj = { event: 'SY_RCPT', rcpt: 'a@b', units: [{ hop: 'x', rcpts: ['a@b'] }], n: null };
    expect(censorNested(obj)).toBe(obj);
  });

  it("censors a child's and a grandchild's bindings, which pino formats without formatters.log", () => {
    const lines: string[] = [];
    const log = censoredChildren(pino(loggerOptions('test', 'info'), { write: (line: string) => void lines.push(line) }));
    const conn = { host: 'h', password: 'secret' };
    const child = log.child({ conn, n: 1 });
    child.child({ source: { bindPassword: 'secret2' } }).info('grandchild');
    child.info({ password: 'p' }, 'child');
    expect(lines).toHaveLength(2);
    expect(lines.join('')).not.toContain('secret');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ conn: { host: 'h', password: CENSOR }, source: { bindPassword: CENSOR } });
    expect(JSON.parse(lines[1] as string)).toMatchObject({ conn: { password: CENSOR }, n: 1, password: CENSOR });
    expect(conn.password).toBe('secret');
  });

  it('does not censor deeper than one level (the wildcard paths it replaces did not)', () => {
    const line = logged({ config: { ldap: { password: 'deep' } } });
    expect(line).toMatchObject({ config: { ldap: { password: 'deep' } } });
  });
});
