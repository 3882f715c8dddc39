/**
 * RFC 4514 DNs for the contacts: `CN=<displayName>` escaped, under the OU, and ` (n)` added
 * to a name already taken (case-insensitive, as AD compares RDNs). Pure.
 */

/** Escapes an attribute value for a DN string (RFC 4514 §2.4). */
export function escapeRdnValue(value: string): string {
  let out = value.replace(/[\\"+,;<>=]/g, (c) => `\\${c}`).replace(/\0/g, '\\00');
  if (out.startsWith(' ') || out.startsWith('#')) out = `\\${out}`;
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = `${out.slice(0, -1)}\\ `;
  return out;
}

export function contactDn(cn: string, ou: string): string {
  return `CN=${escapeRdnValue(cn)},${ou}`;
}

/** AD limits cn to 64 characters; the ` (n)` suffix must fit too. */
const CN_MAX = 64;

function withSuffix(base: string, n: number): string {
  if (n === 1) return base.slice(0, CN_MAX);
  const suffix = ` (${n})`;
  return `${base.slice(0, CN_MAX - suffix.length)}${suffix}`;
}

/** The wanted name as a CN is made from it (trimmed; `contact` when empty). */
function baseOf(name: string): string {
  return name.trim() === '' ? 'contact' : name.trim();
}

/** Whether `cn` is one of the CNs `name` is given: the name, or `name (n)`, cut to 64 characters as allocate cuts them. */
export function isNameFor(cn: string, name: string): boolean {
  const n = / \((\d+)\)$/.exec(cn);
  return withSuffix(baseOf(name), n ? Number(n[1]) : 1) === cn || withSuffix(baseOf(name), 1) === cn;
}

/** A 52-bit hash of a name (two FNV-1a passes): a million names cost a Set of numbers, not of strings. */
function nameKey(cn: string): number {
  const s = cn.toLowerCase();
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0) * 2 ** 20 + ((b >>> 0) & 0xfffff);
}

/**
 * Gives each wanted name a free CN: the name itself, else `name (2)`, `name (3)` …
 * Names are compared ignoring case (as AD compares RDNs), by a 52-bit hash: two different
 * names taken for one would need a hash collision (about 1 in 10^4 over a million names),
 * and cost only a needless ` (n)`.
 */
export class NameAllocator {
  private readonly taken = new Set<number>();

  reserve(cn: string): void {
    this.taken.add(nameKey(cn));
  }

  isFree(cn: string): boolean {
    return !this.taken.has(nameKey(cn));
  }

  allocate(name: string): string {
    const base = baseOf(name);
    for (let n = 1; ; n++) {
      const cn = withSuffix(base, n);
      if (this.isFree(cn)) {
        this.reserve(cn);
        return cn;
      }
    }
  }
}

/** The value of the first RDN of a DN (unescaped), e.g. the CN of a contact. */
export function firstRdnValue(dn: string): string {
  let out = '';
  let i = dn.indexOf('=') + 1;
  for (; i < dn.length; i++) {
    const c = dn[i] as string;
    if (c === ',' || c === '+') break;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = dn.slice(i + 1, i + 3);
    if (/^[0-9A-Fa-f]{2}$/.test(next)) {
      // a run of \XX bytes is UTF-8
      const bytes: number[] = [];
      while (dn[i] === '\\' && /^[0-9A-Fa-f]{2}$/.test(dn.slice(i + 1, i + 3))) {
        bytes.push(parseInt(dn.slice(i + 1, i + 3), 16));
        i += 3;
      }
      i--;
      out += Buffer.from(bytes).toString('utf8');
    } else {
      out += dn[i + 1] ?? '';
      i++;
    }
  }
  return out;
}

/** The parent of a DN (everything after the first unescaped comma). */
export function parentDn(dn: string): string {
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === '\\') i++;
    else if (dn[i] === ',') return dn.slice(i + 1);
  }
  return '';
}
