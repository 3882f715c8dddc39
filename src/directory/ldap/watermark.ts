/**
 * Where the next delta sync of an LDAP source starts (SPEC §2.2). AD: the rootDSE
 * `highestCommittedUSN` read before the previous search, with the DC's `dsServiceName`
 * and `invocationID` (USNs are per DC: another DC, or a restored one, means a full sync).
 * Generic LDAP: the newest `modifyTimestamp` seen.
 */
import { createHash } from 'node:crypto';
import { Control, type Client } from 'ldapts';
import type { LdapSourceConfig } from '../../config/schema.js';
import { guidFromBytes } from '../guid.js';
import type { LdapAttributes } from './mapping.js';

export type Watermark = (
  | {
      readonly mode: 'ad';
      readonly usn: string;
      readonly dsServiceName: string;
      readonly invocationId: string;
      readonly namingContext: string;
    }
  | { readonly mode: 'generic'; readonly modifyTimestamp: string }
) & {
  /** The settings the watermark was read with (settingsFingerprint): another value means a full sync. */
  readonly fingerprint?: string;
};

/**
 * A fingerprint of the settings that decide which entries a source reads and how they map:
 * url, baseDn, filter, scope and attribute mapping (SPEC §2.2). A delta whose watermark
 * carries another fingerprint runs as a full sync.
 */
export function settingsFingerprint(source: Pick<LdapSourceConfig, 'url' | 'baseDn' | 'filter' | 'scope' | 'mapping'>): string {
  const settings = [source.url, source.baseDn.toLowerCase(), source.filter ?? '', source.scope, source.mapping];
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
}

/** LDAP_SERVER_SHOW_DELETED_OID: return tombstones (isDeleted=TRUE) too. */
export class ShowDeletedControl extends Control {
  static readonly type = '1.2.840.113556.1.4.417';
  constructor() {
    super(ShowDeletedControl.type, { critical: true });
  }
}

const first = (v: unknown): string => String(Array.isArray(v) ? v[0] : (v ?? ''));

/** The DC's position now: read before a search, it is the next delta's starting point. */
export async function readAdWatermark(client: Client): Promise<Extract<Watermark, { mode: 'ad' }>> {
  const { searchEntries } = await client.search('', {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['highestCommittedUSN', 'dsServiceName', 'defaultNamingContext'],
  });
  const root = searchEntries[0];
  const dsServiceName = first(root?.dsServiceName);
  const usn = first(root?.highestCommittedUSN);
  if (!dsServiceName || !/^\d+$/.test(usn))
    throw new Error('the rootDSE has no highestCommittedUSN / dsServiceName: not an Active Directory DC (use mapping: openldap)');
  const ntds = await client.search(dsServiceName, {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['invocationId'],
    explicitBufferAttributes: ['invocationId'],
  });
  const raw = ntds.searchEntries[0]?.invocationId;
  const invocationId = Buffer.isBuffer(raw) && raw.length === 16 ? guidFromBytes(raw) : '';
  return { mode: 'ad', usn, dsServiceName, invocationId, namingContext: first(root?.defaultNamingContext) };
}

/** Folds the newest modifyTimestamp of each entry seen into a generic watermark. */
export function modifyTimestampTracker(): { onAttrs: (a: LdapAttributes) => void; watermark: () => Watermark | undefined } {
  let newest = '';
  return {
    onAttrs(a) {
      const v = a.get('modifytimestamp')?.[0];
      const t = typeof v === 'string' ? v : v?.toString('utf8');
      if (t !== undefined && t > newest) newest = t;
    },
    watermark: () => (newest ? { mode: 'generic', modifyTimestamp: newest } : undefined),
  };
}
