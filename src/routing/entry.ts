/**
 * One directory entry as read from any source (Csvde row, LDAP entry), before it is
 * turned into a recipient object: what the routing core consumes, defined here so the
 * source readers (src/directory/) map to it. Attribute values are as written in the source.
 */
export interface DirectoryEntry {
  /** Identity within the source: DN for Csvde, objectGUID for AD, entryUUID for OpenLDAP. */
  readonly id: string;
  readonly dn: string;
  readonly objectClass: readonly string[];
  readonly proxyAddresses: readonly string[];
  readonly mail?: string | undefined;
  readonly targetAddress?: string | undefined;
  readonly mailNickname?: string | undefined;
  readonly displayName?: string | undefined;
  readonly givenName?: string | undefined;
  /** Surname. */
  readonly sn?: string | undefined;
  readonly cn?: string | undefined;
  readonly legacyExchangeDN?: string | undefined;
  /** msExchHideFromAddressLists (AD), as a boolean when the source has it. */
  readonly hiddenFromAddressLists?: boolean | undefined;
  /** Creation time as a sortable string (AD generalized time), when the source has it. */
  readonly created?: string | undefined;
  /** objectGUID in GUID text form, when the source has it. */
  readonly guid?: string | undefined;
  /** The GAL-sync marker attribute's value (routing/marker.ts), when the entry has one. */
  readonly marker?: string | undefined;
  /** Where the entry came from, for error messages (e.g. `students.csv:42`). */
  readonly origin?: string | undefined;
}
