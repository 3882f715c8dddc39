/**
 * `switchyard contacts apply` (SPEC §10): the contacts of one source's objects in the table,
 * written into the managed OU of an LDAP source through ldapts, in one short session.
 * Reads the OU and the target's recipients, plans (./plan.ts), checks the deletion guard,
 * then writes: deletes, renames (modify-DN), modifications, adds. A write that fails is
 * reported with its DN and the others go on.
 */
import { Attribute, Change, InsufficientAccessError, NoSuchObjectError, type Client } from 'ldapts';
import type { GalSyncConfig, LdapSourceConfig } from '../config/schema.js';
import { ldapSession, type LdapSession } from '../directory/ldap/reader.js';
import { adMapping, searchFilter } from '../directory/ldap/mapping.js';
import { deletionGuard } from '../routing/guard.js';
import { MARKER_ATTRIBUTE } from '../routing/marker.js';
import type { RecipientObject } from '../routing/object.js';
import { contactFor, exported, smtpAddresses, type Contact } from './contact.js';
import { contactAttributes, CSVDE_COLUMNS, type PlacedContact } from './formats.js';
import { managedOrigin, planApply, type ApplyPlan, type ConflictReport, type OuEntry } from './plan.js';
import { firstRdnValue, parentDn } from './rdn.js';

export interface ApplyOptions {
  readonly password: string | undefined;
  readonly dryRun?: boolean;
  readonly allowMassDelete?: boolean;
  readonly onProgress?: (p: { done: number; total: number }) => void;
}

export interface WriteError {
  readonly op: 'add' | 'modify' | 'rename' | 'delete';
  readonly dn: string;
  readonly error: string;
}

export interface ApplyResult {
  readonly from: string;
  readonly to: string;
  readonly ou: string;
  readonly dryRun: boolean;
  readonly counts: {
    added: number;
    modified: number;
    renamed: number;
    deleted: number;
    unchanged: number;
    conflicts: number;
    errors: number;
  };
  readonly conflicts: ConflictReport[];
  readonly errors: WriteError[];
  /** DNs of every planned change (a dry run prints them). */
  readonly planned: { add: string[]; modify: string[]; rename: { from: string; to: string }[]; delete: string[] };
  readonly durationMs: number;
}

export class ContactsGuardError extends Error {
  readonly code = 'SY_CONTACTS_GUARD';
}

/** A refusal of apply itself (the guard, a missing OU): not an LDAP failure to classify or retry. */
export class ContactsApplyError extends Error {
  readonly code = 'SY_CONTACTS_APPLY';
}

/** The target source as the write account binds to it. */
export function writeSource(target: LdapSourceConfig, gal: GalSyncConfig): LdapSourceConfig {
  return gal.bindDn === undefined ? target : { ...target, bindDn: gal.bindDn };
}

/** The contacts wanted: one per exported object of the source. */
export async function wantedContacts(batches: AsyncIterable<readonly RecipientObject[]>, routingDomain: string): Promise<Contact[]> {
  const out: Contact[] = [];
  for await (const batch of batches) for (const o of batch) if (exported(o)) out.push(contactFor(o, routingDomain));
  return out;
}

const OU_ATTRIBUTES = CSVDE_COLUMNS.filter((n) => n !== 'DN' && n !== 'name');

const text = (v: unknown): string[] =>
  (Array.isArray(v) ? v : v === undefined ? [] : [v]).map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : String(x)));

async function readOu(client: Client, ou: string, pageSize: number): Promise<OuEntry[]> {
  const out: OuEntry[] = [];
  try {
    for await (const page of client.searchPaginated(ou, {
      scope: 'sub',
      filter: '(objectClass=*)',
      attributes: OU_ATTRIBUTES,
      paged: { pageSize },
    })) {
      for (const e of page.searchEntries) {
        if (e.dn.toLowerCase() === ou.toLowerCase()) continue;
        const attrs = new Map<string, string[]>();
        for (const [k, v] of Object.entries(e)) if (k !== 'dn') attrs.set(k.toLowerCase(), text(v));
        out.push({ dn: e.dn, cn: attrs.get('cn')?.[0] ?? firstRdnValue(e.dn), attrs });
      }
    }
  } catch (err) {
    if (err instanceof NoSuchObjectError)
      throw new ContactsApplyError(`the managed OU ${ou} does not exist in the target directory (galSync ou)`);
    throw err;
  }
  return out;
}

/** Every address a non-managed recipient of the target holds → its DN. */
async function readHolders(client: Client, target: LdapSourceConfig, from: string, ou: string): Promise<Map<string, string>> {
  const holders = new Map<string, string>();
  const inOu = (dn: string): boolean => dn.toLowerCase().endsWith(`,${ou.toLowerCase()}`);
  const filter = searchFilter(adMapping, target.filter);
  for await (const page of client.searchPaginated(target.baseDn, {
    scope: target.scope,
    filter,
    attributes: ['objectClass', 'proxyAddresses', 'mail', MARKER_ATTRIBUTE],
    paged: { pageSize: target.pageSize },
  })) {
    for (const e of page.searchEntries) {
      const attrs = new Map<string, string[]>(Object.entries(e).map(([k, v]) => [k.toLowerCase(), text(v)]));
      if (inOu(e.dn) && managedOrigin(from, attrs) !== undefined) continue;
      for (const a of [...smtpAddresses(attrs.get('proxyaddresses') ?? []), ...(attrs.get('mail') ?? []).map((m) => m.toLowerCase())])
        if (!holders.has(a)) holders.set(a, e.dn);
    }
  }
  return holders;
}

function describe(err: unknown, ou: string): string {
  const msg = err instanceof Error ? err.message : String(err);
  if (err instanceof InsufficientAccessError)
    return `insufficient access rights (${msg.trim()}): the write account needs create, delete and write rights on ${ou}`;
  return msg;
}

function addAttributes(p: PlacedContact): Attribute[] {
  return contactAttributes(p)
    .filter(([name, values]) => name !== 'name' && values.length > 0)
    .map(([type, values]) => new Attribute({ type, values }));
}

async function write(client: Client, plan: ApplyPlan, ou: string, onProgress: ApplyOptions['onProgress']): Promise<WriteError[]> {
  const errors: WriteError[] = [];
  const total = plan.deletes.length + plan.renames.length + plan.modifies.length + plan.adds.length;
  let done = 0;
  const step = async (op: WriteError['op'], dn: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (err) {
      errors.push({ op, dn, error: describe(err, ou) });
      return false;
    } finally {
      onProgress?.({ done: ++done, total });
    }
  };
  for (const dn of plan.deletes) await step('delete', dn, () => client.del(dn));
  const failedRenames = new Set<string>();
  for (const r of plan.renames) {
    const ok = await step('rename', r.dn, () => client.modifyDN(r.dn, r.newDn.slice(0, r.newDn.length - parentDn(r.newDn).length - 1)));
    if (!ok) failedRenames.add(r.newDn);
  }
  for (const m of plan.modifies) {
    if (failedRenames.has(m.dn)) continue;
    const changes = m.changes.map(([type, values]) => new Change({ operation: 'replace', modification: new Attribute({ type, values }) }));
    await step('modify', m.dn, () => client.modify(m.dn, changes));
  }
  for (const a of plan.adds) await step('add', a.dn, () => client.add(a.dn, addAttributes(a)));
  return errors;
}

export async function applyContacts(
  gal: GalSyncConfig,
  target: LdapSourceConfig,
  wanted: readonly Contact[],
  opts: ApplyOptions,
): Promise<ApplyResult> {
  const started = Date.now();
  let result: ApplyResult | undefined;
  let refused: Error | undefined;
  const session = ldapSession(writeSource(target, gal), { password: opts.password }, async function* (s) {
    try {
      result = await run(s);
    } catch (err) {
      if (!(err instanceof ContactsGuardError || err instanceof ContactsApplyError)) throw err;
      refused = err;
    }
    yield undefined;
  });
  const run = async (s: LdapSession): Promise<ApplyResult> => {
    s.step(`read ${gal.ou}`);
    const ouEntries = await readOu(s.client, gal.ou, target.pageSize);
    s.step(`search ${target.baseDn}`);
    const holders = await readHolders(s.client, target, gal.from, gal.ou);
    const plan = planApply({ from: gal.from, ou: gal.ou, wanted, ouEntries, holders });
    const refusal = deletionGuard({
      source: `galSync ${gal.from} → ${gal.to}`,
      previous: plan.managed,
      removed: plan.deletes.length,
      threshold: gal.deletionThreshold,
      previousAddresses: plan.managedAddresses,
      removedAddresses: plan.removedAddresses,
    });
    if (refusal !== undefined && opts.allowMassDelete !== true && opts.dryRun !== true)
      throw new ContactsGuardError(
        refusal.replace('the table is unchanged', `nothing was written to ${gal.ou}`).replace(/objects \(/, 'managed contacts ('),
      );
    s.step(`write in ${gal.ou}`);
    const errors = opts.dryRun === true ? [] : await write(s.client, plan, gal.ou, opts.onProgress);
    const failed = (op: WriteError['op']) => errors.filter((e) => e.op === op).length;
    return {
      from: gal.from,
      to: gal.to,
      ou: gal.ou,
      dryRun: opts.dryRun === true,
      counts: {
        added: plan.adds.length - failed('add'),
        modified: plan.modifies.length - failed('modify'),
        renamed: plan.renames.length - failed('rename'),
        deleted: plan.deletes.length - failed('delete'),
        unchanged: plan.unchanged,
        conflicts: plan.conflicts.length,
        errors: errors.length,
      },
      conflicts: plan.conflicts,
      errors,
      planned: {
        add: plan.adds.map((a) => a.dn),
        modify: plan.modifies.map((m) => m.dn),
        rename: plan.renames.map((r) => ({ from: r.dn, to: r.newDn })),
        delete: plan.deletes,
      },
      durationMs: Date.now() - started,
    };
  };
  for await (const _ of session) void _;
  if (refused) throw refused;
  if (result === undefined) throw new Error('contacts apply: the LDAP session ended without a result');
  return result;
}
