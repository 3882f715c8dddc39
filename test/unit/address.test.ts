import { describe, expect, it } from 'vitest';
import { addressProblem, parseAddress, stripSmtpPrefix } from '../../src/routing/address.js';

describe('parseAddress (RFC 5321 with SMTPUTF8)', () => {
  it.each([
    'alice@contoso.edu',
    'Alice.Smith+tag@Contoso.EDU',
    '"john doe"@contoso.edu',
    "o'brien@contoso.edu",
    'josé@bücher.example',
    'user@[192.0.2.1]',
    'user@[IPv6:2001:db8::1]',
    'x@localhost',
  ])('accepts %s', (a) => {
    expect(parseAddress(a).ok).toBe(true);
  });

  it.each([
    ['', 'empty address'],
    ['no-at-sign', 'not local@domain'],
    ['@contoso.edu', 'not local@domain'],
    ['alice@', 'not local@domain'],
    ['a..b@contoso.edu', 'invalid local part'],
    ['.a@contoso.edu', 'invalid local part'],
    ['a b@contoso.edu', 'invalid local part'],
    ['alice@-contoso.edu', 'invalid domain'],
    ['alice@contoso..edu', 'invalid domain'],
    ['alice@[300.1.1.1]', 'invalid domain'],
    [`${'a'.repeat(65)}@contoso.edu`, 'invalid local part'],
  ])('rejects %j (%s)', (a, reason) => {
    const r = parseAddress(a);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('keeps the written form and lower-cases the key', () => {
    const r = parseAddress('Ada.Lovelace@Contoso.EDU');
    expect(r.ok && r.address).toMatchObject({
      local: 'Ada.Lovelace',
      domain: 'Contoso.EDU',
      key: 'ada.lovelace@contoso.edu',
      domainKey: 'contoso.edu',
    });
  });

  it('at the limits of the plain ASCII form (checked in one pattern) decides as the full checks do', () => {
    const label = (n: number) => 'b'.repeat(n);
    expect(parseAddress(`${'a'.repeat(64)}@contoso.edu`).ok).toBe(true);
    expect(parseAddress(`${'a'.repeat(65)}@contoso.edu`)).toEqual({ ok: false, reason: 'invalid local part' });
    expect(parseAddress(`a@${label(63)}.edu`).ok).toBe(true);
    expect(parseAddress(`a@${label(64)}.edu`)).toEqual({ ok: false, reason: 'invalid domain' });
    const longest = `a@${[label(63), label(63), label(63), label(60)].join('.')}`;
    expect(longest).toHaveLength(254);
    expect(parseAddress(longest).ok).toBe(true);
    expect(parseAddress(`${longest}b`)).toEqual({ ok: false, reason: 'address longer than 254 octets' });
    expect(parseAddress('a@b-.edu')).toEqual({ ok: false, reason: 'invalid domain' });
    expect(parseAddress('a@b.')).toEqual({ ok: false, reason: 'invalid domain' });
    expect(parseAddress('a.@b.edu')).toEqual({ ok: false, reason: 'invalid local part' });
    expect(parseAddress("A!#$%&'*+-/=?^_`{|}~z@X-1.Example")).toEqual({
      ok: true,
      address: {
        local: "A!#$%&'*+-/=?^_`{|}~z",
        domain: 'X-1.Example',
        key: "a!#$%&'*+-/=?^_`{|}~z@x-1.example",
        domainKey: 'x-1.example',
        literal: false,
      },
    });
  });

  it('addressProblem gives the verdict and reason of parseAddress for every form, plain or not', () => {
    const label = (n: number) => 'b'.repeat(n);
    const longest = `a@${[label(63), label(63), label(63), label(60)].join('.')}`;
    const inputs = [
      ...['alice@contoso.edu', 'Alice.Smith+tag@Contoso.EDU', '"john doe"@contoso.edu', 'josé@bücher.example', 'user@[192.0.2.1]'],
      ...['user@[IPv6:2001:db8::1]', 'x@localhost', '', 'no-at-sign', '@contoso.edu', 'alice@', 'a..b@contoso.edu', '.a@contoso.edu'],
      ...['a b@contoso.edu', 'alice@-contoso.edu', 'alice@contoso..edu', 'alice@[300.1.1.1]', 'a@b-.edu', 'a@b.', 'a.@b.edu', 'a@b@c.d'],
      ...[
        `${'a'.repeat(64)}@contoso.edu`,
        `${'a'.repeat(65)}@contoso.edu`,
        `a@${label(63)}.edu`,
        `a@${label(64)}.edu`,
        longest,
        `${longest}b`,
      ],
      ...[`${'a'.repeat(65)}@b`, `"${'a'.repeat(70)}"@b.c`, "A!#$%&'*+-/=?^_`{|}~z@X-1.Example"],
    ];
    for (const input of inputs) {
      const parsed = parseAddress(input);
      expect([input, addressProblem(input)]).toEqual([input, parsed.ok ? undefined : parsed.reason]);
    }
  });

  it('strips an optional SMTP: prefix of any case', () => {
    expect(stripSmtpPrefix('SMTP:a@b.c')).toBe('a@b.c');
    expect(stripSmtpPrefix('smtp:a@b.c')).toBe('a@b.c');
    expect(stripSmtpPrefix('a@b.c')).toBe('a@b.c');
  });

  it('refuses a lone UTF-16 surrogate (a broken UTF-16 export): it has no UTF-8 form', () => {
    for (const a of ['a\uD800@contoso.edu', 'a\uDC00b@contoso.edu', 'a@b\uD800.example']) {
      expect(parseAddress(a)).toEqual({ ok: false, reason: 'not well-formed Unicode (a lone UTF-16 surrogate)' });
      expect(addressProblem(a)).toBe('not well-formed Unicode (a lone UTF-16 surrogate)');
    }
    expect(addressProblem('😀@contoso.edu')).toBeUndefined();
  });
});
