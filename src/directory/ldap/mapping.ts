/**
 * LDAP attribute mappings (pure): which attributes to read, which recipients to select,
 * and how an entry becomes a directory entry. `ad` is Active Directory / Exchange;
 * `openldap` is a plain schema with mail + mailAlternateAddress + mailRoutingAddress (and
 * inetOrgPerson's cn, givenName, sn; it has no mailNickname, legacyExchangeDN or hiding).
 */
import type { DirectoryEntry } from '../../routing/entry.js';
import { MARKER_ATTRIBUTE } from '../../routing/marker.js';
import { guidFromBytes } from '../guid.js';
import { ldapBoolean } from '../values.js';

/** Attribute values as read: lower-cased attribute name → values (strings, or buffers for binary). */
export type LdapAttributes = ReadonlyMap<string, readonly (string | Buffer)[]>;

export interface LdapMapping {
  readonly name: 'ad' | 'openldap';
  readonly attributes: readonly string[];
  /** Attributes read as binary (ldapts explicitBufferAttributes). */
  readonly binary: readonly string[];
  /** The object classes recipients have (any of them); empty: any class (OpenLDAP: groupOfNames with mail too). */
  readonly recipientClasses: readonly string[];
  /** A recipient has at least one of these attributes (a full read selects on them). */
  readonly addressAttributes: readonly string[];
  toEntry(dn: string, attrs: LdapAttributes): { entry: DirectoryEntry } | { error: string };
}

const text = (attrs: LdapAttributes, name: string): string[] =>
  (attrs.get(name) ?? []).map((v) => (typeof v === 'string' ? v : v.toString('utf8')));
/** The first value as text, without copying the others (one call per attribute and entry: GC). */
const first = (attrs: LdapAttributes, name: string): string | undefined => {
  const v = attrs.get(name)?.[0];
  return v === undefined || typeof v === 'string' ? v : v.toString('utf8');
};

/** AD generalized time `20230101120000.0Z` or `20230101120000Z`, kept sortable. */
function created(value: string | undefined): string | undefined {
  return value === undefined ? undefined : value.replace(/\.0Z$/, 'Z');
}

export const adMapping: LdapMapping = {
  name: 'ad',
  attributes: [
    'objectGUID',
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
    'userAccountControl',
    'whenCreated',
    'whenChanged',
    'uSNChanged',
    'isDeleted',
    MARKER_ATTRIBUTE,
  ],
  binary: ['objectGUID'],
  // SPEC §1: mail-enabled groups (security or distribution), dynamic distribution lists and
  // mail-enabled public folders are recipients too; the address filter keeps the mail-enabled ones
  recipientClasses: ['user', 'contact', 'group', 'msExchDynamicDistributionList', 'publicFolder'],
  addressAttributes: ['proxyAddresses', 'mail'],
  toEntry(dn, attrs) {
    const raw = attrs.get('objectguid')?.[0];
    if (!(raw instanceof Buffer) || raw.length !== 16) return { error: 'no binary objectGUID (16 bytes)' };
    const guid = guidFromBytes(raw);
    return {
      entry: {
        id: guid,
        guid,
        dn,
        objectClass: text(attrs, 'objectclass'),
        proxyAddresses: text(attrs, 'proxyaddresses'),
        mail: first(attrs, 'mail'),
        targetAddress: first(attrs, 'targetaddress'),
        mailNickname: first(attrs, 'mailnickname'),
        displayName: first(attrs, 'displayname'),
        givenName: first(attrs, 'givenname'),
        sn: first(attrs, 'sn'),
        cn: first(attrs, 'cn'),
        legacyExchangeDN: first(attrs, 'legacyexchangedn'),
        hiddenFromAddressLists: ldapBoolean(first(attrs, 'msexchhidefromaddresslists')),
        created: created(first(attrs, 'whencreated')),
        marker: first(attrs, MARKER_ATTRIBUTE.toLowerCase()),
        origin: dn,
      },
    };
  },
};

export const openldapMapping: LdapMapping = {
  name: 'openldap',
  attributes: [
    'entryUUID',
    'objectClass',
    'mail',
    'mailAlternateAddress',
    'mailRoutingAddress',
    'displayName',
    'cn',
    'givenName',
    'sn',
    'createTimestamp',
    'modifyTimestamp',
  ],
  binary: [],
  recipientClasses: [],
  addressAttributes: ['mail', 'mailAlternateAddress'],
  toEntry(dn, attrs) {
    const id = first(attrs, 'entryuuid');
    if (id === undefined) return { error: 'no entryUUID' };
    const mail = first(attrs, 'mail');
    const proxies = [...(mail ? [`SMTP:${mail}`] : []), ...text(attrs, 'mailalternateaddress').map((a) => `smtp:${a}`)];
    return {
      entry: {
        id,
        dn,
        objectClass: text(attrs, 'objectclass'),
        proxyAddresses: proxies,
        mail,
        targetAddress: first(attrs, 'mailroutingaddress'),
        displayName: first(attrs, 'displayname') ?? first(attrs, 'cn'),
        givenName: first(attrs, 'givenname'),
        sn: first(attrs, 'sn'),
        cn: first(attrs, 'cn'),
        created: created(first(attrs, 'createtimestamp')),
        origin: dn,
      },
    };
  },
};

export function mappingFor(name: 'ad' | 'openldap'): LdapMapping {
  return name === 'ad' ? adMapping : openldapMapping;
}

const anyOf = (name: string, values: readonly string[]): string | undefined =>
  values.length === 0 ? undefined : values.length === 1 ? `(${name}=${values[0]})` : `(|${values.map((v) => `(${name}=${v})`).join('')})`;

/**
 * The one search filter of full and delta reads: the mapping's recipient classes, the
 * configured filter ANDed in, and either `changed` (a delta: everything changed, also
 * entries that lost their addresses and become deletions) or, for a full read, at least
 * one address attribute.
 */
export function searchFilter(mapping: LdapMapping, configured: string | undefined, changed?: string): string {
  const parts = [
    changed,
    anyOf('objectClass', mapping.recipientClasses),
    changed === undefined ? `(|${mapping.addressAttributes.map((a) => `(${a}=*)`).join('')})` : undefined,
    configured === undefined ? undefined : configured.startsWith('(') ? configured : `(${configured})`,
  ].filter((p): p is string => p !== undefined);
  return parts.length === 1 ? (parts[0] as string) : `(&${parts.join('')})`;
}

const RANGE = /^(.+);range=(\d+)-(\d+|\*)$/i;

export interface RangedResult {
  readonly attrs: Map<string, (string | Buffer)[]>;
  /** Attributes AD returned only in part: read again from `next`. */
  readonly pending: { readonly attr: string; readonly next: number }[];
}

/** Attribute names lower-cased, remembered (a name comes once per entry: no new string each time). */
const lowerNames = new Map<string, string>();
function lowerName(name: string): string {
  let lower = lowerNames.get(name);
  if (lower === undefined) {
    lower = name.toLowerCase();
    if (lowerNames.size < 1000) lowerNames.set(name, lower);
  }
  return lower;
}

/**
 * Folds AD ranged attributes (`proxyAddresses;range=0-1499`) into plain ones and lists
 * those still incomplete. Attribute names are lower-cased.
 */
export function foldRanges(raw: Record<string, unknown>): RangedResult {
  const attrs = new Map<string, (string | Buffer)[]>();
  const pending: { attr: string; next: number }[] = [];
  for (const key in raw) {
    if (key === 'dn' || key === 'controls') continue;
    const value = raw[key];
    const values = (Array.isArray(value) ? value : [value]) as (string | Buffer)[];
    if (!key.includes(';')) {
      const name = lowerName(key);
      const had = attrs.get(name);
      if (had) had.push(...values);
      else attrs.set(name, values);
      continue;
    }
    const m = RANGE.exec(key);
    const name = (m?.[1] ?? key).toLowerCase();
    attrs.set(name, [...(attrs.get(name) ?? []), ...values]);
    if (m && m[3] !== '*') pending.push({ attr: m[1] as string, next: Number(m[3]) + 1 });
  }
  return { attrs, pending };
}
