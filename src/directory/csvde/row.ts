/**
 * Maps one Csvde record (array of column values) to a directory entry. Pure.
 * SPEC §2.1: header names case-insensitive in any order, `;` separates values of
 * multi-valued attributes (optional spaces after it), empty = absent, `X'hex'` binary.
 */
import type { DirectoryEntry } from '../../routing/entry.js';
import { quoted } from '../../routing/printable.js';
import { guidFromBytes } from '../guid.js';
import { ldapBoolean } from '../values.js';

export interface Header {
  readonly width: number;
  readonly dn: number;
  readonly objectClass?: number;
  readonly proxyAddresses?: number;
  readonly mail?: number;
  readonly targetAddress?: number;
  readonly mailNickname?: number;
  readonly displayName?: number;
  readonly givenName?: number;
  readonly sn?: number;
  readonly cn?: number;
  readonly legacyExchangeDN?: number;
  readonly msExchHideFromAddressLists?: number;
  readonly whenCreated?: number;
  readonly objectGUID?: number;
  readonly adminDescription?: number;
}

export type HeaderResult = { ok: true; header: Header } | { ok: false; reason: string };

const COLUMNS = [
  'objectClass',
  'proxyAddresses',
  'mail',
  'targetAddress',
  'mailNickname',
  'displayName',
  'givenName',
  'sn',
  'cn',
  'legacyExchangeDN',
  'msExchHideFromAddressLists',
  'whenCreated',
  'objectGUID',
  'adminDescription',
] as const;

export function parseHeader(names: readonly string[]): HeaderResult {
  const index = new Map<string, number>();
  for (const [i, raw] of names.entries()) {
    const name = raw.trim().toLowerCase();
    const first = index.get(name);
    // csvde never writes a column twice; reading one of the two would drop the other's values silently
    if (first !== undefined) {
      return { ok: false, reason: `the header has the column ${quoted(raw.trim())} twice (columns ${first + 1} and ${i + 1})` };
    }
    index.set(name, i);
  }
  const dn = index.get('dn');
  if (dn === undefined) return { ok: false, reason: 'the header has no DN column' };
  const header: Record<string, number> = { width: names.length, dn };
  for (const c of COLUMNS) {
    const i = index.get(c.toLowerCase());
    if (i !== undefined) header[c] = i;
  }
  return { ok: true, header: header as unknown as Header };
}

/** Splits a multi-valued attribute; empty parts are dropped. */
export function splitValues(value: string): string[] {
  if (value === '') return [];
  return value
    .split(';')
    .map((v) => v.trim())
    .filter((v) => v !== '');
}

const PROXY_TYPE = /^[A-Za-z0-9]+:/;

/**
 * Splits proxyAddresses. Some proxy values contain `;` themselves (Exchange UM:
 * `EUM:1234;phone-context=…`), so a part without a `TYPE:` prefix continues the value before it.
 */
export function splitProxyAddresses(value: string): string[] {
  const out: string[] = [];
  for (const part of splitValues(value)) {
    const last = out.length - 1;
    if (last >= 0 && !PROXY_TYPE.test(part)) out[last] = `${out[last]};${part}`;
    else out.push(part);
  }
  return out;
}

const HEX = /^X'([0-9A-Fa-f]*)'$/;

/** Decodes an `X'hex'` value; undefined when the value is not in that form. */
export function decodeBinary(value: string): Buffer | undefined {
  const m = HEX.exec(value.trim());
  return m?.[1] !== undefined && m[1].length % 2 === 0 ? Buffer.from(m[1], 'hex') : undefined;
}

function column(record: readonly string[], i: number | undefined): string | undefined {
  if (i === undefined) return undefined;
  const v = record[i];
  return v === undefined || v === '' ? undefined : v;
}

export type RowResult = { ok: true; entry: DirectoryEntry } | { ok: false; reason: string };

export function mapRow(header: Header, record: readonly string[], origin: string): RowResult {
  if (record.length !== header.width) return { ok: false, reason: `expected ${header.width} columns, found ${record.length}` };
  const dn = column(record, header.dn)?.trim();
  if (dn === undefined || dn === '') return { ok: false, reason: 'no DN' };
  let guid: string | undefined;
  const rawGuid = column(record, header.objectGUID);
  if (rawGuid !== undefined) {
    const bytes = decodeBinary(rawGuid);
    if (bytes === undefined || bytes.length !== 16) return { ok: false, reason: `objectGUID ${quoted(rawGuid)} is not X'<32 hex digits>'` };
    guid = guidFromBytes(bytes);
  }
  return {
    ok: true,
    entry: {
      id: dn,
      dn,
      objectClass: splitValues(column(record, header.objectClass) ?? ''),
      proxyAddresses: splitProxyAddresses(column(record, header.proxyAddresses) ?? ''),
      mail: column(record, header.mail)?.trim(),
      targetAddress: column(record, header.targetAddress)?.trim(),
      mailNickname: column(record, header.mailNickname),
      displayName: column(record, header.displayName),
      givenName: column(record, header.givenName),
      sn: column(record, header.sn),
      cn: column(record, header.cn),
      legacyExchangeDN: column(record, header.legacyExchangeDN)?.trim(),
      hiddenFromAddressLists: ldapBoolean(column(record, header.msExchHideFromAddressLists)),
      created: column(record, header.whenCreated)?.trim(),
      guid,
      marker: column(record, header.adminDescription),
      origin,
    },
  };
}
