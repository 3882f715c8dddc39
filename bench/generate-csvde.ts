/**
 * Generates large Csvde exports for benchmarks and the atomicity test: `rows` objects,
 * each with 3 SMTP addresses (primary, secondary, mail), a mix of mailboxes (60 %),
 * mail users (30 %) and contacts (10 %). Streamed to disk; deterministic for a given seed.
 *
 *   node dist/bench/generate-csvde.js FILE ROWS [SEED]
 */
import { pathToFileURL } from 'node:url';
import { writeRows } from './write-rows.js';

export const HEADER = 'objectClass,DN,name,cn,sn,givenName,displayName,proxyAddresses,targetAddress,mail,mailnickname\n';

export function generatedRow(i: number, seed = 0): string {
  const n = `u${i}`;
  const kind = i % 10;
  const name = `User ${i}${seed ? ` r${seed}` : ''}`;
  const dn = `"CN=User ${i}\\, Test,OU=${kind < 6 ? 'Staff' : kind < 9 ? 'Cloud' : 'Contacts'},DC=contoso,DC=edu"`;
  const primary = `${n}@contoso.edu`;
  const proxies = `"SMTP:${primary};smtp:${n}@alias.contoso.edu"`;
  if (kind < 6) return `user,${dn},${name},${name},Test,User,${name},${proxies},,${n}@mail.contoso.edu,${n}\n`;
  const target = `SMTP:${n}@live.contoso.edu`;
  return `${kind < 9 ? 'user' : 'contact'},${dn},${name},${name},Test,User,${name},${proxies},${target},${n}@mail.contoso.edu,${n}\n`;
}

export function writeGeneratedCsvde(path: string, rows: number, seed = 0): Promise<void> {
  return writeRows(path, HEADER, rows, (i) => generatedRow(i, seed));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, rows, seed] = process.argv.slice(2);
  if (!file || !rows) {
    process.stderr.write('usage: generate-csvde FILE ROWS [SEED]\n');
    process.exit(2);
  }
  await writeGeneratedCsvde(file, Number(rows), Number(seed ?? 0));
}
