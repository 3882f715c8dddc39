/**
 * `switchyard contacts export` (SPEC §10): streams the contacts of one source's objects in
 * the table, batch by batch, to a writable stream. Memory grows with the names (to find
 * collisions), never with the objects.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { RecipientObject } from '../routing/object.js';
import { contactFor, exported } from './contact.js';
import { csvdeHeader, csvdeLine, ldifRecord, type PlacedContact } from './formats.js';
import { contactDn, NameAllocator } from './rdn.js';

export interface ExportOptions {
  readonly routingDomain: string;
  readonly ou: string;
  readonly format: 'csvde' | 'ldif';
  /** UTF-16LE with BOM, as `csvde -u` reads (csvde only). */
  readonly unicode?: boolean;
}

export interface ExportResult {
  readonly exported: number;
  /** Mail users and contacts (they point elsewhere already). */
  readonly left: number;
}

export async function exportContacts(
  batches: AsyncIterable<readonly RecipientObject[]>,
  out: Writable,
  opts: ExportOptions,
): Promise<ExportResult> {
  const encode = (s: string): Buffer => Buffer.from(s, opts.unicode === true ? 'utf16le' : 'utf8');
  const write = async (s: string): Promise<void> => {
    if (!out.write(encode(s))) await once(out, 'drain');
  };
  if (opts.unicode === true) await write('\ufeff');
  if (opts.format === 'csvde') await write(csvdeHeader());
  const names = new NameAllocator();
  let count = 0;
  let left = 0;
  for await (const batch of batches) {
    let chunk = '';
    for (const object of batch) {
      if (!exported(object)) {
        left++;
        continue;
      }
      const contact = contactFor(object, opts.routingDomain);
      const cn = names.allocate(contact.name);
      const placed: PlacedContact = { dn: contactDn(cn, opts.ou), cn, contact };
      chunk += opts.format === 'csvde' ? csvdeLine(placed) : ldifRecord(placed);
      count++;
    }
    if (chunk !== '') await write(chunk);
  }
  return { exported: count, left };
}
