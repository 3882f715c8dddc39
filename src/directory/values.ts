/** Attribute value forms shared by the Csvde and LDAP mappings. Pure. */

/** An LDAP Boolean (RFC 4517: TRUE or FALSE); undefined when absent or neither. */
export function ldapBoolean(value: string | undefined): boolean | undefined {
  const v = value?.trim().toUpperCase();
  return v === 'TRUE' ? true : v === 'FALSE' ? false : undefined;
}
