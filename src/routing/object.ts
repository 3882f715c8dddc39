/**
 * Recipient objects: a directory entry reduced to what routing needs. Pure.
 * SPEC §1: SMTP: is the one primary, smtp: secondaries, other proxy types ignored,
 * `mail` also resolves, matching ignores case, the written form is kept for display.
 */
import type { DirectoryEntry } from './entry.js';
import { addressProblem, stripSmtpPrefix } from './address.js';
import { parseMarker, type MirrorOrigin } from './marker.js';
import { quoted } from './printable.js';

/** `group`: a mail-enabled group (distribution or mail-enabled security group). */
export type ObjectKind = 'mailbox' | 'mailUser' | 'contact' | 'group';

export interface RecipientObject {
  readonly source: string;
  readonly id: string;
  readonly dn: string;
  readonly kind: ObjectKind;
  /** Primary SMTP address as written, when the object has one. */
  readonly primary?: string | undefined;
  /** Bare target address as written (no SMTP: prefix), for mail users and contacts. */
  readonly target?: string | undefined;
  /** Every routable address as written, primary first, deduplicated ignoring case. */
  readonly addresses: readonly string[];
  readonly created?: string | undefined;
  readonly displayName?: string | undefined;
  readonly givenName?: string | undefined;
  readonly sn?: string | undefined;
  readonly cn?: string | undefined;
  readonly mailNickname?: string | undefined;
  readonly legacyExchangeDN?: string | undefined;
  /** Hidden from address lists (msExchHideFromAddressLists); absent when not hidden. */
  readonly hiddenFromAddressLists?: true | undefined;
  /** A managed contact (SPEC §10): the object of another source it mirrors, from its marker. */
  readonly mirrorOf?: MirrorOrigin | undefined;
}

export type BuildResult = { ok: true; object: RecipientObject } | { ok: false; reason: string } | { ok: 'skip'; reason: string };

/** Object classes (lower case) of mail-enabled groups: AD groups, dynamic lists, public folders; OpenLDAP groups. */
const GROUP_CLASSES = ['group', 'msexchdynamicdistributionlist', 'publicfolder', 'groupofnames', 'groupofuniquenames'];

/** Groups rank with mailboxes; a group with a targetAddress ranks as a mail user. */
const KIND_ORDER: Record<ObjectKind, number> = { mailbox: 0, group: 0, mailUser: 1, contact: 2 };

function kindOrder(object: Pick<RecipientObject, 'kind' | 'target'>): number {
  return object.kind === 'group' && object.target !== undefined ? KIND_ORDER.mailUser : KIND_ORDER[object.kind];
}

function collectProxies(values: readonly string[]): { primary?: string; secondaries: string[]; error?: string } {
  let primary: string | undefined;
  const secondaries: string[] = [];
  for (const raw of values) {
    const value = raw.trim();
    if (value === '') continue;
    const colon = value.indexOf(':');
    if (colon <= 0) return { secondaries, error: `proxyAddresses value ${quoted(value)} has no TYPE: prefix` };
    const type = value.slice(0, colon);
    const addr = value.slice(colon + 1);
    if (type.toLowerCase() !== 'smtp') continue; // X500:, X400:, SIP:, EUM: … do not route mail
    const problem = addressProblem(addr);
    if (problem !== undefined) return { secondaries, error: `proxyAddresses value ${quoted(value)} is not an address (${problem})` };
    if (type === 'SMTP') {
      if (primary !== undefined) return { secondaries, error: `two primary SMTP: addresses (${quoted(primary)} and ${quoted(addr)})` };
      primary = addr;
    } else {
      secondaries.push(addr);
    }
  }
  return primary === undefined ? { secondaries } : { primary, secondaries };
}

/**
 * An object's addresses, deduplicated ignoring case: a list of the lower-cased ones for the
 * usual handful (cheaper than a Set), a Set once there are more (AD's ranged proxyAddresses
 * can hold thousands). One object, not two named closures made per object: the CLI bundle's
 * esbuild `keepNames` names every named closure as it is made (an `Object.defineProperty`),
 * which cost B1's and B2's main thread 3–6 % (docs/benchmarks.md, session 33).
 */
class AddressList {
  readonly addresses: string[] = [];
  private readonly seen: string[] = [];
  private many: Set<string> | undefined;

  add(a: string | undefined): void {
    if (a === undefined || a === '') return;
    const key = a.toLowerCase();
    if (this.many !== undefined ? this.many.has(key) : this.seen.includes(key)) return;
    if (this.many !== undefined) this.many.add(key);
    else if (this.seen.push(key) > 16) this.many = new Set(this.seen);
    this.addresses.push(a);
  }
}

/**
 * Turns a directory entry of `source` into a recipient object, or says why it cannot. A lone
 * UTF-16 surrogate (a broken UTF-16 export) becomes U+FFFD in the object's text (what Redis
 * stores for it anyway, and what Redis's JSON decoder accepts); in an address it is an error.
 */
export function buildObject(source: string, entry: DirectoryEntry): BuildResult {
  if (entry.dn.trim() === '') return { ok: false, reason: 'no DN' };
  const proxies = collectProxies(entry.proxyAddresses);
  if (proxies.error !== undefined) return { ok: false, reason: proxies.error };

  let target: string | undefined;
  if (entry.targetAddress !== undefined && entry.targetAddress.trim() !== '') {
    const bare = stripSmtpPrefix(entry.targetAddress.trim());
    const problem = addressProblem(bare);
    if (problem !== undefined) return { ok: false, reason: `targetAddress ${quoted(entry.targetAddress)} is not an address (${problem})` };
    target = bare;
  }
  const mail = entry.mail?.trim();
  if (mail !== undefined && mail !== '' && addressProblem(mail) !== undefined) {
    return { ok: false, reason: `mail ${quoted(mail)} is not an address` };
  }

  const list = new AddressList();
  list.add(proxies.primary);
  for (const a of proxies.secondaries) list.add(a);
  list.add(mail);
  const addresses = list.addresses;
  if (addresses.length === 0) return { ok: 'skip', reason: 'not mail-enabled (no SMTP address)' };

  const classes = entry.objectClass.map((c) => c.toLowerCase()); // once, not once per class asked
  const isContact = classes.includes('contact');
  // SPEC §1: a contact without targetAddress is not mail-enabled: left out and counted, not an error
  if (isContact && target === undefined) return { ok: 'skip', reason: 'not mail-enabled (contact without targetAddress)' };
  const kind: ObjectKind = GROUP_CLASSES.some((c) => classes.includes(c))
    ? 'group'
    : target === undefined
      ? 'mailbox'
      : isContact
        ? 'contact'
        : 'mailUser';
  return {
    ok: true,
    object: {
      source,
      id: entry.id.toWellFormed(),
      dn: entry.dn.toWellFormed(),
      kind,
      primary: proxies.primary ?? mail,
      target,
      addresses,
      created: entry.created?.toWellFormed(),
      displayName: entry.displayName?.toWellFormed(),
      givenName: entry.givenName?.toWellFormed(),
      sn: entry.sn?.toWellFormed(),
      cn: entry.cn?.toWellFormed(),
      mailNickname: entry.mailNickname?.toWellFormed(),
      legacyExchangeDN: entry.legacyExchangeDN?.toWellFormed(),
      hiddenFromAddressLists: entry.hiddenFromAddressLists === true ? true : undefined,
      mirrorOf: kind === 'contact' ? parseMarker(entry.marker) : undefined,
    },
  };
}

/**
 * The conflict rank of an object (SPEC §3.1): a string that sorts the winner first —
 * higher source priority, then mailbox (or group) before mail user (or group with a
 * targetAddress) before contact, then the older
 * object, then DN order; a mirror contact (SPEC §10) after all of them. Stored with the object so Redis scripts compare plain strings.
 */
export function rankKey(object: RecipientObject, priority: number): string {
  const prio = String(1_000_000 - Math.max(-999_999, Math.min(999_999, Math.trunc(priority)))).padStart(7, '0');
  const created = object.created !== undefined && object.created !== '' ? object.created : '~';
  // SPEC §10: a mirror never takes an address from its origin, whatever the priorities: it
  // ranks after every object that is not a mirror ('~' sorts after the digits of `prio`)
  const mirror = object.mirrorOf !== undefined ? '~' : '';
  return `${mirror}${prio}|${kindOrder(object)}|${created}|${object.dn.toLowerCase()}\u0000${object.id}`;
}

/** The key identifying an object within its source (case-insensitive for DNs and GUIDs). */
export function objectKey(object: Pick<RecipientObject, 'id'>): string {
  return object.id.toLowerCase();
}
