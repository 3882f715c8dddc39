/**
 * RFC 5321 mailbox syntax (with RFC 6531 SMTPUTF8: UTF-8 allowed in the local part and
 * domain labels). Pure; used for envelope recipients and directory values alike.
 */

export interface Address {
  /** Local part exactly as written (quotes kept). */
  readonly local: string;
  /** Domain as written. */
  readonly domain: string;
  /** Lower-cased `local@domain`, the matching key. */
  readonly key: string;
  /** Lower-cased domain, for domain classification. */
  readonly domainKey: string;
  /** True for an address literal (`[192.0.2.1]`). */
  readonly literal: boolean;
}

export type AddressResult = { ok: true; address: Address } | { ok: false; reason: string };

// atext of RFC 5322 plus any non-ASCII character (RFC 6531 UTF8-non-ascii).
const ATOM = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u;
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\u{10FFFF}]|\\[\x20-\x7e])*"$/u;
const LABEL = /^(?:[A-Za-z0-9\u0080-\u{10FFFF}](?:[A-Za-z0-9\-\u0080-\u{10FFFF}]*[A-Za-z0-9\u0080-\u{10FFFF}])?)$/u;
const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]+$/;
/**
 * The common form in one test, ASCII only: dot-atoms @ letter-digit-hyphen labels of at most
 * 63 characters. What it matches, the checks below accept too (given a local part of at
 * most 64 characters), so it only saves their splitting and byte counting (B1 parses 400,000
 * directory addresses per 100,000 rows). Pinned by test/unit/address.test.ts.
 */
const SIMPLE =
  /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+(?:\.[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function validLocal(local: string): boolean {
  if (local.length === 0 || Buffer.byteLength(local) > 64) return false;
  if (local.startsWith('"')) return QUOTED.test(local);
  return local.split('.').every((atom) => ATOM.test(atom));
}

function validDomain(domain: string): { ok: boolean; literal: boolean } {
  if (domain.startsWith('[')) {
    if (!domain.endsWith(']')) return { ok: false, literal: true };
    const inner = domain.slice(1, -1);
    if (IPV4.test(inner)) return { ok: true, literal: true };
    if (/^IPv6:/i.test(inner)) {
      const v6 = inner.slice(5);
      return { ok: IPV6_CHARS.test(v6) && v6.includes(':'), literal: true };
    }
    return { ok: false, literal: true };
  }
  if (domain.length === 0 || Buffer.byteLength(domain) > 255) return { ok: false, literal: false };
  const labels = domain.split('.');
  const ok = labels.length >= 1 && labels.every((l) => Buffer.byteLength(l) <= 63 && LABEL.test(l));
  return { ok, literal: false };
}

const SIMPLE_DOMAIN = { ok: true, literal: false } as const;

/** Parses a bare mailbox (`local@domain`, no angle brackets). */
export function parseAddress(input: string): AddressResult {
  if (input.length === 0) return { ok: false, reason: 'empty address' };
  const simple = input.length <= 254 && SIMPLE.test(input); // ASCII: a character is an octet
  if (!simple && Buffer.byteLength(input) > 254) return { ok: false, reason: 'address longer than 254 octets' };
  // a lone surrogate (a broken UTF-16 export) has no UTF-8 form: Redis would store U+FFFD
  if (!simple && !input.isWellFormed()) return { ok: false, reason: 'not well-formed Unicode (a lone UTF-16 surrogate)' };
  const at = input.lastIndexOf('@');
  if (at <= 0 || at === input.length - 1) return { ok: false, reason: 'not local@domain' };
  const local = input.slice(0, at);
  const domain = input.slice(at + 1);
  if (!(simple && at <= 64) && !validLocal(local)) return { ok: false, reason: 'invalid local part' };
  const d = simple ? SIMPLE_DOMAIN : validDomain(domain);
  if (!d.ok) return { ok: false, reason: 'invalid domain' };
  const domainKey = domain.toLowerCase();
  return {
    ok: true,
    address: { local, domain, key: `${local.toLowerCase()}@${domainKey}`, domainKey, literal: d.literal },
  };
}

/**
 * Why `input` is not a bare mailbox, or undefined when it is one: parseAddress's verdict
 * without building the Address (a directory sync checks about four addresses per entry and
 * keeps none of the parts). The common form costs one regular-expression test.
 */
export function addressProblem(input: string): string | undefined {
  if (input.length <= 254 && input.lastIndexOf('@') <= 64 && SIMPLE.test(input)) return undefined;
  const parsed = parseAddress(input);
  return parsed.ok ? undefined : parsed.reason;
}

/** Strips one optional `SMTP:` prefix (any case) from a targetAddress value. */
export function stripSmtpPrefix(value: string): string {
  return /^smtp:/i.test(value) ? value.slice(5) : value;
}
