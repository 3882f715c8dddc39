/**
 * What `contacts apply` must write (SPEC §10), from the contacts wanted and what the
 * target's OU and directory hold. Pure. Only managed contacts — in the OU and carrying
 * this direction's marker — are ever modified, renamed or deleted; an address a
 * non-managed object of the target holds is a conflict, not a second holder.
 */
import { MARKER_ATTRIBUTE, parseMarker } from '../routing/marker.js';
import { smtpAddresses, type Contact } from './contact.js';
import { contactAttributes, CONTENT_ATTRIBUTES, type PlacedContact } from './formats.js';
import { contactDn, isNameFor, NameAllocator, parentDn } from './rdn.js';

/** An entry of the managed OU as read: attribute names lower-cased. */
export interface OuEntry {
  readonly dn: string;
  readonly cn: string;
  readonly attrs: ReadonlyMap<string, readonly string[]>;
}

export interface Modification {
  readonly dn: string;
  /** Attributes replaced with these values ([] removes the attribute). */
  readonly changes: readonly [string, string[]][];
}

export interface Rename {
  readonly dn: string;
  readonly newCn: string;
  readonly newDn: string;
}

export interface ConflictReport {
  readonly address: string;
  /** The DN the contact has or would have. */
  readonly contactDn: string;
  /** The non-managed object of the target holding the address. */
  readonly holderDn: string;
  readonly origin: { readonly source: string; readonly id: string };
}

export interface ApplyPlan {
  readonly adds: PlacedContact[];
  readonly modifies: Modification[];
  readonly renames: Rename[];
  readonly deletes: string[];
  readonly conflicts: ConflictReport[];
  readonly unchanged: number;
  /** Managed contacts found in the OU (the deletion guard's base). */
  readonly managed: number;
  /** Addresses the managed contacts hold, and those the deletes and modifications would take away. */
  readonly managedAddresses: number;
  readonly removedAddresses: number;
}

export interface PlanInput {
  readonly from: string;
  readonly ou: string;
  readonly wanted: readonly Contact[];
  readonly ouEntries: readonly OuEntry[];
  /** Lower-cased address → DN, for every non-managed holder in the target directory. */
  readonly holders: ReadonlyMap<string, string>;
}

/** The attributes apply keeps equal (the RDN-bound cn and name are handled by renames). */
const COMPARED = CONTENT_ATTRIBUTES;

const sorted = (v: readonly string[]): string => [...v].sort().join('\n');

function isHidden(values: readonly string[]): boolean {
  return values.some((v) => v.toUpperCase() === 'TRUE');
}

function differences(entry: OuEntry, placed: PlacedContact): [string, string[]][] {
  const want = new Map(contactAttributes(placed));
  const out: [string, string[]][] = [];
  for (const name of COMPARED) {
    const wanted = want.get(name) ?? [];
    const have = entry.attrs.get(name.toLowerCase()) ?? [];
    const same = name === 'msExchHideFromAddressLists' ? isHidden(have) === isHidden(wanted) : sorted(have) === sorted(wanted);
    if (!same) out.push([name, wanted]);
  }
  return out;
}

/** The origin id a managed entry mirrors, lower-cased; undefined when the entry is not managed here. */
export function managedOrigin(from: string, attrs: ReadonlyMap<string, readonly string[]>): string | undefined {
  const isContact = (attrs.get('objectclass') ?? []).some((c) => c.toLowerCase() === 'contact');
  const origin = parseMarker(attrs.get(MARKER_ATTRIBUTE.toLowerCase())?.[0]);
  return isContact && origin?.source === from ? origin.id.toLowerCase() : undefined;
}

export function planApply(input: PlanInput): ApplyPlan {
  const names = new NameAllocator();
  for (const e of input.ouEntries) names.reserve(e.cn);
  const managed = new Map<string, OuEntry>();
  for (const e of input.ouEntries) {
    const id = managedOrigin(input.from, e.attrs);
    if (id !== undefined && !managed.has(id)) managed.set(id, e);
  }
  const plan = {
    adds: [] as PlacedContact[],
    modifies: [] as Modification[],
    renames: [] as Rename[],
    deletes: [] as string[],
    conflicts: [] as ConflictReport[],
  };
  let unchanged = 0;
  let managedAddresses = 0;
  let removedAddresses = 0;
  const wantedIds = new Set<string>();
  // a stable order, so that collisions give the same names run after run
  const wanted = [...input.wanted].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : 1));
  for (const contact of wanted) {
    const id = contact.id.toLowerCase();
    wantedIds.add(id);
    const entry = managed.get(id);
    const addresses = [...new Set([...smtpAddresses(contact.proxyAddresses), contact.mail.toLowerCase()])];
    const held = addresses.filter((a) => input.holders.has(a));
    if (held.length > 0) {
      const dn = entry?.dn ?? contactDn(contact.name, input.ou);
      for (const a of held) plan.conflicts.push({ address: a, contactDn: dn, holderDn: input.holders.get(a) as string, origin: contact });
      continue; // not created; a managed one that exists is left as it is
    }
    if (entry === undefined) {
      const cn = names.allocate(contact.name);
      plan.adds.push({ dn: contactDn(cn, input.ou), cn, contact });
      continue;
    }
    let dn = entry.dn;
    let cn = entry.cn;
    if (!isNameFor(entry.cn, contact.name)) {
      cn = names.allocate(contact.name);
      dn = contactDn(cn, parentDn(entry.dn)); // a rename stays in its container (a sub-OU too)
      plan.renames.push({ dn: entry.dn, newCn: cn, newDn: dn });
    }
    const changes = differences(entry, { dn, cn, contact });
    if (changes.length > 0) plan.modifies.push({ dn, changes });
    else if (dn === entry.dn) unchanged++;
  }
  for (const [id, entry] of managed) {
    const held = smtpAddresses(entry.attrs.get('proxyaddresses') ?? []).length;
    managedAddresses += held;
    if (wantedIds.has(id)) continue;
    plan.deletes.push(entry.dn);
    removedAddresses += held;
  }
  return { ...plan, unchanged, managed: managed.size, managedAddresses, removedAddresses };
}
