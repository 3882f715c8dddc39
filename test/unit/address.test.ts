import { describe, expect, it } from 'vitest';
import { parseAddress, stripSmtpPrefix } from '../../src/routing/address.js';

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

  it('strips an optional SMTP: prefix of any case', () => {
    expect(stripSmtpPrefix('SMTP:a@b.c')).toBe('a@b.c');
    expect(stripSmtpPrefix('smtp:a@b.c')).toBe('a@b.c');
    expect(stripSmtpPrefix('a@b.c')).toBe('a@b.c');
  });
});
