/** Text forms of `contacts apply` results, for the command and for `status`. */
import type { ContactsRun } from '../store/contacts-runs.js';

interface Shown {
  readonly counts: Readonly<Record<string, number>>;
  readonly conflicts: readonly { address: string; contactDn: string; holderDn: string }[];
  readonly errors: readonly { op: string; dn: string; error: string }[];
}

export function formatCounts(counts: Readonly<Record<string, number>>): string {
  return ['added', 'modified', 'renamed', 'deleted', 'unchanged', 'conflicts', 'errors'].map((k) => `${counts[k] ?? 0} ${k}`).join(', ');
}

export function formatApply(r: Shown, shown = 20): string {
  const lines = [formatCounts(r.counts)];
  for (const c of r.conflicts.slice(0, shown))
    lines.push(`  conflict ${c.address}: held by ${c.holderDn} (not managed), not created as ${c.contactDn}`);
  if (r.conflicts.length > shown) lines.push(`  … and ${r.conflicts.length - shown} more conflicts`);
  for (const e of r.errors.slice(0, shown)) lines.push(`  error ${e.op} ${e.dn}: ${e.error}`);
  if (r.errors.length > shown) lines.push(`  … and ${r.errors.length - shown} more errors`);
  return lines.join('\n');
}

export function formatContactsRuns(runs: readonly ContactsRun[]): string {
  if (runs.length === 0) return '';
  const lines = ['contacts (GAL sync):'];
  for (const r of runs) {
    const head = `  ${r.from} → ${r.to} (${r.ou}) at ${r.at}${r.dryRun ? ' (dry run)' : ''}: `;
    if (r.error !== undefined) lines.push(`${head}failed: ${r.error}`);
    else
      lines.push(
        head + formatApply({ counts: r.counts ?? {}, conflicts: r.conflicts ?? [], errors: r.errors ?? [] }, 5).replace(/\n/g, '\n  '),
      );
  }
  return lines.join('\n');
}
