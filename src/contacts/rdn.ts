/**
 * RFC 4514 DNs for the contacts: `CN=<displayName>` escaped, under the OU, and ` (n)` added
 * to a name already taken (case-insensitive, as AD compares RDNs). Pure.
 */
import { fingerprint, FingerprintSet } from '../store/fingerprints.js';

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

/** The seed of a name's fingerprint (src/store/fingerprints.ts). */
const SEED_NAME = 0x3c6ef372;

/**
 * Gives each wanted name a free CN: the name itself, else `name (2)`, `name (3)` …
 * Names are compared ignoring case (as AD compares RDNs), by a 64-bit fingerprint in a typed
 * array (8 bytes a slot: 8 MB at 600,000 names, 16 MB at a million, against 30–40 MB for a Set
 * of numbers: `bench:contacts`): two different names taken for one would need a fingerprint
 * collision (a few in 10^8 over a million names), and cost only a needless ` (n)`. It holds
 * at most MAX_FINGERPRINTS (~12.5 million) names.
 */
export class NameAllocator {
  private readonly taken = new FingerprintSet();
  private readonly fp = new Int32Array(2);

  /** Takes `cn`; false when it was taken already. */
  private claim(cn: string): boolean {
    fingerprint(cn.toLowerCase(), SEED_NAME, this.fp);
    return this.taken.add(this.fp[0] as number, this.fp[1] as number);
  }

  reserve(cn: string): void {
    this.claim(cn);
  }

  allocate(name: string): string {
    const base = baseOf(name);
    for (let n = 1; ; n++) {
      const cn = withSuffix(base, n);
      if (this.claim(cn)) return cn;
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
