/**
 * The two export formats (SPEC §10), one record at a time. Pure.
 * - csvde: what `csvde -i -f FILE` imports: a header, one line per contact, CRLF, values
 *   with `,` `"` `;` or line breaks double-quoted (`""` for a quote), multi-valued
 *   attributes joined with `;`, an empty value = absent.
 * - LDIF (RFC 2849): an `ldapmodify` change file of `changetype: add` records; values that
 *   are not SAFE-STRINGs (non-ASCII, leading space, `:` or `<`) base64-encoded.
 */
import type { Contact } from './contact.js';
import { MARKER_ATTRIBUTE } from '../routing/marker.js';

/** The attributes of a contact that carry its content (compared by apply; cn and name follow the RDN). */
export const CONTENT_ATTRIBUTES = [
  'displayName',
  'givenName',
  'sn',
  'mailNickname',
  'proxyAddresses',
  'mail',
  'targetAddress',
  'msExchHideFromAddressLists',
] as const;

export const CSVDE_COLUMNS = ['DN', 'objectClass', 'cn', 'name', ...CONTENT_ATTRIBUTES, MARKER_ATTRIBUTE] as const;

/** A contact with its place in the target directory. */
export interface PlacedContact {
  readonly dn: string;
  readonly cn: string;
  readonly contact: Contact;
}

/** The attributes of a contact as written to a directory, in CSVDE_COLUMNS order (DN excluded). */
export function contactAttributes(p: PlacedContact): [string, string[]][] {
  const c = p.contact;
  const one = (v: string | undefined): string[] => (v === undefined || v === '' ? [] : [v]);
  return [
    ['objectClass', ['contact']],
    ['cn', [p.cn]],
    ['name', [p.cn]],
    ['displayName', [c.displayName]],
    ['givenName', one(c.givenName)],
    ['sn', one(c.sn)],
    ['mailNickname', [c.mailNickname]],
    ['proxyAddresses', [...c.proxyAddresses]],
    ['mail', [c.mail]],
    ['targetAddress', [c.targetAddress]],
    ['msExchHideFromAddressLists', c.hidden ? ['TRUE'] : []],
    [MARKER_ATTRIBUTE, [c.marker]],
  ];
}

function csvField(value: string): string {
  return /[",;\r\n]/.test(value) || value !== value.trim() ? `"${value.replace(/"/g, '""')}"` : value;
}

export function csvdeHeader(): string {
  return `${CSVDE_COLUMNS.join(',')}\r\n`;
}

export function csvdeLine(p: PlacedContact): string {
  const fields = [p.dn, ...contactAttributes(p).map(([, values]) => values.join(';'))];
  return `${fields.map((f, i) => (i === 0 ? `"${f.replace(/"/g, '""')}"` : csvField(f))).join(',')}\r\n`;
}

// eslint-disable-next-line no-control-regex -- RFC 2849 SAFE-CHAR / SAFE-INIT-CHAR ranges
const SAFE = /^[\x01-\x09\x0b\x0c\x0e-\x1f\x21-\x39\x3b\x3d-\x7f][\x01-\x09\x0b\x0c\x0e-\x7f]*$/;

function ldifLine(name: string, value: string): string {
  return SAFE.test(value) && !value.endsWith(' ') ? `${name}: ${value}\n` : `${name}:: ${Buffer.from(value, 'utf8').toString('base64')}\n`;
}

export function ldifRecord(p: PlacedContact): string {
  let out = ldifLine('dn', p.dn) + 'changetype: add\n';
  for (const [name, values] of contactAttributes(p)) {
    // `name` is the RDN's value, set by the directory itself (AD refuses it in an add)
    if (name === 'name') continue;
    for (const v of values) out += ldifLine(name, v);
  }
  return `${out}\n`;
}
