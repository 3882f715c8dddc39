/**
 * The diff a dry run prints (SPEC §3.4): every object added or removed (DN), every changed
 * object with each changed field old → new, every address added or removed, and the new
 * conflicts. Collected only on a dry run: a real publish never reads the old objects.
 */
import type { RecipientObject } from '../routing/object.js';

type Shown = Pick<RecipientObject, 'dn' | 'addresses'> & Partial<Pick<RecipientObject, 'kind' | 'target' | 'primary'>>;

export interface FieldChange {
  readonly old: string | null;
  readonly new: string | null;
}

export interface ChangedObject {
  readonly dn: string;
  readonly dnBefore?: string;
  readonly kind?: FieldChange;
  readonly targetAddress?: FieldChange;
  readonly primary?: FieldChange;
  readonly proxyAddresses?: { readonly added: readonly string[]; readonly removed: readonly string[] };
}

export interface DryRunDiff {
  readonly added: readonly string[];
  readonly removed: readonly string[];
  readonly changed: readonly ChangedObject[];
  readonly addressesAdded: readonly string[];
  readonly addressesRemoved: readonly string[];
  readonly newConflicts: readonly string[];
}

function field(a: string | undefined, b: string | undefined): FieldChange | undefined {
  return a === b ? undefined : { old: a ?? null, new: b ?? null };
}

/** Addresses of `a` not in `b`, matched without case. */
function minus(a: readonly string[], b: readonly string[]): string[] {
  const lower = new Set(b.map((x) => x.toLowerCase()));
  return a.filter((x) => !lower.has(x.toLowerCase()));
}

export class DiffCollector {
  private readonly added: string[] = [];
  private readonly removed: string[] = [];
  private readonly changed: ChangedObject[] = [];
  /** Lower-cased address → [display form, net count of objects gaining (+) or losing (−) it]. */
  private readonly net = new Map<string, [string, number]>();
  newConflicts: string[] = [];

  private count(addresses: readonly string[], by: number): void {
    for (const a of addresses) {
      const k = a.toLowerCase();
      const e = this.net.get(k);
      this.net.set(k, [e?.[0] ?? a, (e?.[1] ?? 0) + by]);
    }
  }

  add(o: Shown): void {
    this.added.push(o.dn);
    this.count(o.addresses, 1);
  }

  remove(o: Shown): void {
    this.removed.push(o.dn);
    this.count(o.addresses, -1);
  }

  change(before: Shown, after: Shown): void {
    this.count(before.addresses, -1);
    this.count(after.addresses, 1);
    const gained = minus(after.addresses, before.addresses);
    const lost = minus(before.addresses, after.addresses);
    const kind = before.kind === after.kind ? undefined : { old: before.kind ?? null, new: after.kind ?? null };
    const targetAddress = field(before.target, after.target);
    const primary = field(before.primary, after.primary);
    this.changed.push({
      dn: after.dn,
      ...(before.dn !== after.dn ? { dnBefore: before.dn } : {}),
      ...(kind ? { kind } : {}),
      ...(targetAddress ? { targetAddress } : {}),
      ...(primary ? { primary } : {}),
      ...(gained.length + lost.length > 0 ? { proxyAddresses: { added: gained, removed: lost } } : {}),
    });
  }

  result(): DryRunDiff {
    const entries = [...this.net.values()];
    return {
      added: this.added,
      removed: this.removed,
      changed: this.changed,
      addressesAdded: entries.filter(([, n]) => n > 0).map(([a]) => a),
      addressesRemoved: entries.filter(([, n]) => n < 0).map(([a]) => a),
      newConflicts: this.newConflicts,
    };
  }
}
