/**
 * The contact the other directory should hold for one object of a source (SPEC §10). Pure.
 * Exported: mailboxes and groups without targetAddress (mail users and contacts already
 * point elsewhere). targetAddress is `SMTP:` + the object's address in the routing domain
 * when it has one, else `mailNickname@DOMAIN`.
 */
import { formatMarker } from '../routing/marker.js';
import type { RecipientObject } from '../routing/object.js';

export interface Contact {
  /** The object it mirrors: `source` and `id` (also in `marker`). */
  readonly source: string;
  readonly id: string;
  /** The CN wanted before collisions are resolved (displayName). */
  readonly name: string;
  readonly displayName: string;
  readonly givenName?: string | undefined;
  readonly sn?: string | undefined;
  readonly mailNickname: string;
  /** `SMTP:` primary first, `smtp:` secondaries, then `X500:` legacyExchangeDN. */
  readonly proxyAddresses: readonly string[];
  readonly mail: string;
  /** With its `SMTP:` prefix. */
  readonly targetAddress: string;
  readonly hidden: boolean;
  readonly marker: string;
}

export function exported(object: RecipientObject): boolean {
  return (object.kind === 'mailbox' || object.kind === 'group') && object.target === undefined && object.mirrorOf === undefined;
}

const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();
const localOf = (address: string): string => address.slice(0, address.lastIndexOf('@'));

/** An Exchange alias: the characters mailNickname allows, from the primary's local part. */
function nickname(object: RecipientObject, primary: string): string {
  const given = object.mailNickname?.trim();
  if (given !== undefined && given !== '') return given;
  const nick = localOf(primary).replace(/[^A-Za-z0-9!#$%&'*+\-/=?^_`{|}~.]/g, '');
  return nick === '' ? 'contact' : nick;
}

export function contactFor(object: RecipientObject, routingDomain: string): Contact {
  const primary = object.primary ?? object.addresses[0] ?? '';
  const domain = routingDomain.toLowerCase();
  const mailNickname = nickname(object, primary);
  const inRouting = object.addresses.find((a) => domainOf(a) === domain);
  const displayName = [object.displayName, object.cn, mailNickname].find((v) => v !== undefined && v.trim() !== '')?.trim() ?? mailNickname;
  const proxies = [
    `SMTP:${primary}`,
    ...object.addresses.filter((a) => a.toLowerCase() !== primary.toLowerCase()).map((a) => `smtp:${a}`),
    ...(object.legacyExchangeDN ? [`X500:${object.legacyExchangeDN}`] : []),
  ];
  return {
    source: object.source,
    id: object.id,
    name: displayName,
    displayName,
    givenName: object.givenName,
    sn: object.sn,
    mailNickname,
    proxyAddresses: proxies,
    mail: primary,
    targetAddress: `SMTP:${inRouting ?? `${mailNickname}@${routingDomain}`}`,
    hidden: object.hiddenFromAddressLists === true,
    marker: formatMarker({ source: object.source, id: object.id }),
  };
}

/** The SMTP addresses a contact holds (what a non-managed holder conflicts with), lower-cased. */
export function smtpAddresses(proxyAddresses: readonly string[]): string[] {
  return proxyAddresses.filter((p) => /^smtp:/i.test(p)).map((p) => p.slice(5).toLowerCase());
}
