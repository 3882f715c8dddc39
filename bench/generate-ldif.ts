/**
 * Generates an LDIF of `rows` AD-like recipients (fixtures/ldap schema) for slapadd:
 * 60 % mailboxes, 30 % mail users, 10 % contacts, 3 SMTP addresses each, binary objectGUID.
 *
 *   node dist/bench/generate-ldif.js FILE ROWS
 */
import { pathToFileURL } from 'node:url';
import { writeRows } from './write-rows.js';

export const OUS = ['Staff', 'Cloud', 'Contacts'];

function guid(i: number): string {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0x5a5a0000, 0);
  b.writeUInt32BE(i, 12);
  return b.toString('base64');
}

export function ldifEntry(i: number): string {
  const kind = i % 10;
  const ou = kind < 6 ? 'Staff' : kind < 9 ? 'Cloud' : 'Contacts';
  const n = `u${i}`;
  const lines = [
    `dn: cn=User ${i},ou=${ou},dc=contoso,dc=edu`,
    `objectClass: ${kind < 9 ? 'user' : 'contact'}`,
    `cn: User ${i}`,
    'sn: Test',
    `displayName: User ${i}`,
    `proxyAddresses: SMTP:${n}@contoso.edu`,
    `proxyAddresses: smtp:${n}@alias.contoso.edu`,
    `mail: ${n}@mail.contoso.edu`,
    `mailNickname: ${n}`,
    `objectGUID:: ${guid(i)}`,
    `uSNChanged: ${10_000 + i}`,
    'whenCreated: 20200101000000Z',
  ];
  if (kind >= 6) lines.push(`targetAddress: SMTP:${n}@live.contoso.edu`);
  return `${lines.join('\n')}\n\n`;
}

export function writeGeneratedLdif(path: string, rows: number): Promise<void> {
  const ous = OUS.map((ou) => `dn: ou=${ou},dc=contoso,dc=edu\nobjectClass: organizationalUnit\nou: ${ou}\n\n`).join('');
  return writeRows(path, ous, rows, ldifEntry);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, rows] = process.argv.slice(2);
  if (!file || !rows) {
    process.stderr.write('usage: generate-ldif FILE ROWS\n');
    process.exit(2);
  }
  await writeGeneratedLdif(file, Number(rows));
}
