/** The Csvde reader over the committed fixture files (SPEC §2.1). No Redis involved. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCsvde } from '../../src/directory/csvde/reader.js';
import { decodeBinary, splitProxyAddresses, splitValues } from '../../src/directory/csvde/row.js';
import { buildObject } from '../../src/routing/object.js';
import type { ReadItem } from '../../src/pipeline/types.js';
import { csvFixture } from '../helpers/env.js';

async function readAll(file: string): Promise<ReadItem[]> {
  const out: ReadItem[] = [];
  for await (const batch of readCsvde(csvFixture(file))) out.push(...batch);
  return out;
}
const entries = (items: ReadItem[]) => items.flatMap((i) => ('entry' in i ? [i.entry] : []));
const errors = (items: ReadItem[]) => items.flatMap((i) => ('error' in i ? [i.error] : []));

describe('Csvde reader', () => {
  it('groups, dynamic distribution lists and public folders are groups; a contact without targetAddress is read as notMailEnabled (SPEC §1)', async () => {
    const items = await readAll('groups.csv');
    expect(errors(items)).toEqual([]);
    const kinds = entries(items).map((e) => [e.cn, buildObject('corp', e)]);
    expect(kinds.slice(0, 3)).toEqual([
      ['All Staff', expect.objectContaining({ ok: true, object: expect.objectContaining({ kind: 'group' }) })],
      ['Lab Users', expect.objectContaining({ ok: true, object: expect.objectContaining({ kind: 'group' }) })],
      ['Help Desk', expect.objectContaining({ ok: true, object: expect.objectContaining({ kind: 'group' }) })],
    ]);
    expect(items.filter((i) => 'skip' in i)).toEqual([
      { entry: expect.objectContaining({ dn: 'CN=No Target,OU=Contacts,DC=xo,DC=one' }), skip: 'notMailEnabled' },
    ]);
    expect(buildObject('corp', entries(items)[3]!)).toMatchObject({ ok: 'skip' });
  });

  it("reads the corp export: quoted DNs with commas and quotes, ; lists with spaces, X'hex' GUIDs", async () => {
    const items = await readAll('contoso.csv');
    expect(errors(items)).toEqual([]);
    expect(entries(items)).toHaveLength(268);
    const obrien = entries(items).find((e) => e.dn.startsWith('CN=O"Brien'));
    expect(obrien).toMatchObject({ dn: 'CN=O"Brien\\, Siobhan,OU=Faculty,DC=contoso,DC=edu', created: '20110101093000.0Z' });
    expect(obrien?.guid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const spec = entries(items).find((e) => e.dn === 'cn=Internet User,ou=internet users,dc=xo,dc=one');
    expect(spec).toMatchObject({
      objectClass: ['contact'],
      proxyAddresses: ['SMTP:internetUser@remote.domain', 'smtp:internetuser@xo.one'],
      targetAddress: 'SMTP:internetUser@remote.domain',
      mail: 'internetUser@remote.domain',
      origin: 'contoso.csv:266',
    });
  });

  it('reads the UTF-16LE (csvde -u, CRLF) export identically, and UTF-8 with BOM and CRLF', async () => {
    const utf8 = entries(await readAll('contoso.csv')).map(({ origin: _o, ...e }) => e);
    const utf16 = entries(await readAll('contoso-utf16.csv')).map(({ origin: _o, ...e }) => e);
    expect(utf16).toEqual(utf8);
    expect(entries(await readAll('utf8-bom-crlf.csv'))).toEqual([
      expect.objectContaining({ dn: 'CN=Bom,DC=x', proxyAddresses: ['SMTP:bom@contoso.edu'], mail: undefined }),
    ]);
  });

  it('locates bad rows by line and keeps reading', async () => {
    const items = await readAll('bad-rows.csv');
    expect(errors(items)).toEqual(
      expect.arrayContaining([
        { origin: 'bad-rows.csv:3', reason: 'expected 6 columns, found 5' },
        { origin: 'bad-rows.csv:5', reason: 'no DN' },
        expect.objectContaining({ origin: 'bad-rows.csv:7', reason: expect.stringMatching(/^unbalanced quotes/) }),
      ]),
    );
    expect(entries(items).map((e) => e.origin)).toEqual(
      expect.arrayContaining(['bad-rows.csv:2', 'bad-rows.csv:4', 'bad-rows.csv:6', 'bad-rows.csv:9']),
    );
  });

  it('refuses a header with a column twice (case-insensitive), naming the column and line 1', async () => {
    await expect(readAll('bad-duplicate-column.csv')).rejects.toThrow(
      'bad-duplicate-column.csv:1: the header has the column "ProxyAddresses" twice (columns 3 and 5)',
    );
  });

  it('names the FIRST line of a record whose quoted value holds CR/LF, and prints the reason whole (control characters escaped)', async () => {
    const items = await readAll('bad-multiline-value.csv');
    expect(errors(items)).toEqual([]);
    expect(entries(items).map((e) => [e.dn, e.origin])).toEqual([
      ['CN=Good,DC=x', 'bad-multiline-value.csv:2'],
      ['CN=Bad,DC=x', 'bad-multiline-value.csv:3'], // lines 3 to 5
      ['CN=After,DC=x', 'bad-multiline-value.csv:6'],
    ]);
    const bad = buildObject('corp', entries(items)[1]!);
    expect(bad).toEqual({
      ok: false,
      reason: 'proxyAddresses value "smtp:broken\\r\\nvalue@xo.one" is not an address (invalid local part)',
    });
    expect(bad.ok === false && /[\r\n]/.test(bad.reason)).toBe(false);
    // LF inside values, CRLF after them, empty lines between records: each record's first line
    expect(entries(await readAll('multiline-values.csv')).map((e) => e.origin)).toEqual([
      'multiline-values.csv:2',
      'multiline-values.csv:4',
      'multiline-values.csv:8',
    ]);
  });

  it('reads a file with a CRLF header and LF rows (mixed line endings, SPEC §2.1)', async () => {
    const items = await readAll('mixed-line-endings.csv');
    expect(errors(items)).toEqual([]);
    expect(entries(items).map((e) => [e.dn, e.proxyAddresses, e.origin])).toEqual([
      ['CN=Good,DC=x', ['SMTP:good@xo.one'], 'mixed-line-endings.csv:2'],
      ['CN=Two,DC=x', ['SMTP:two@xo.one'], 'mixed-line-endings.csv:3'],
    ]);
  });

  it('after records with bad quoting, the records that follow keep their own line numbers', async () => {
    const items = await readAll('bad-rows.csv');
    expect(
      errors(items)
        .filter((e) => e.reason.startsWith('unbalanced quotes'))
        .map((e) => e.origin),
    ).toEqual(['bad-rows.csv:7', 'bad-rows.csv:8']);
    expect(entries(items).map((e) => e.origin)).toEqual(['bad-rows.csv:2', 'bad-rows.csv:4', 'bad-rows.csv:6', 'bad-rows.csv:9']);
  });

  it('after a skipped record whose value runs on over lines, the next records keep their own line numbers', async () => {
    const items = await readAll('bad-quote-multiline.csv');
    expect(errors(items).map((e) => e.origin)).toEqual(['bad-quote-multiline.csv:2', 'bad-quote-multiline.csv:5']);
    expect(entries(items).map((e) => [e.dn, e.origin])).toEqual([['CN=Next,DC=x', 'bad-quote-multiline.csv:4']]);
  });

  it('throws with file and line when the file cannot be read on', async () => {
    await expect(readAll('bad-no-dn-column.csv')).rejects.toThrow('bad-no-dn-column.csv:1: the header has no DN column');
    await expect(readAll('no-such-file.csv')).rejects.toThrow('no-such-file.csv: cannot read: ENOENT');
  });

  it('a quote never closed stops the file at the line of the record it opens in (empty lines counted)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-csvde-'));
    try {
      const file = join(dir, 'unclosed.csv');
      writeFileSync(
        file,
        'objectClass,DN,proxyAddresses\nuser,"CN=A,DC=x",SMTP:a@contoso.edu\n\nuser,"CN=B,DC=x,SMTP:b@contoso.edu\nuser,CN=C,SMTP:c@contoso.edu\n',
      );
      const read = async () => {
        for await (const batch of readCsvde(file)) void batch;
      };
      await expect(read()).rejects.toThrow('unclosed.csv:4: unbalanced quotes: a quoted value is never closed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('splits multi-values and decodes binary', () => {
    expect(splitValues('SMTP:a@b.c; smtp:d@b.c;  X500:/o=x;')).toEqual(['SMTP:a@b.c', 'smtp:d@b.c', 'X500:/o=x']);
    expect(splitProxyAddresses('SMTP:a@b.c;EUM:1234;phone-context=dp.contoso.edu; smtp:d@b.c')).toEqual([
      'SMTP:a@b.c',
      'EUM:1234;phone-context=dp.contoso.edu',
      'smtp:d@b.c',
    ]);
    expect(decodeBinary("X'0aff'")).toEqual(Buffer.from([10, 255]));
    expect(decodeBinary('plain')).toBeUndefined();
  });
});
