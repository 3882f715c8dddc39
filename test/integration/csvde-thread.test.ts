/**
 * A large Csvde file is parsed on a thread of its own (src/directory/csvde/parse-worker.ts):
 * it must read exactly as the same file read on the reader's thread — entries, located
 * errors and their order, and the errors that stop a file — for every committed fixture and
 * for a file large enough to cross many batches and the credit window; and the same when the
 * thread was started ahead of its reader (prefetchCsvde, as `switchyard import` does).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prefetchCsvde, THREAD_FROM } from '../../src/directory/csvde/parse-thread.js';
import { readCsvde } from '../../src/directory/csvde/reader.js';
import type { ReadItem } from '../../src/pipeline/types.js';
import { createLogger } from '../../src/log/logger.js';
import { startWorker } from '../../src/main/worker.js';
import { BIN, runCli } from '../helpers/cli.js';
import { csvFixture, testEnv } from '../helpers/env.js';

type Outcome = { items: ReadItem[]; bytes: number } | { thrown: string };

async function read(path: string, thread: boolean): Promise<Outcome> {
  const items: ReadItem[] = [];
  let bytes = 0;
  try {
    for await (const batch of readCsvde(path, { thread, onBytes: (b) => (bytes = b) })) items.push(...batch);
    return { items, bytes };
  } catch (err) {
    return { thrown: `${(err as Error).constructor.name}: ${(err as Error).message}` };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'sy-csvde-thread-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIXTURES = [
  'bad-duplicate-column.csv',
  'bad-multiline-value.csv',
  'bad-no-dn-column.csv',
  'bad-quote-multiline.csv',
  'bad-rows.csv',
  'bad-unclosed.csv',
  'contoso-utf16.csv',
  'contoso.csv',
  'groups.csv',
  'mixed-line-endings.csv',
  'multiline-values.csv',
  'students.csv',
  'utf8-bom-crlf.csv',
];

/** A file over THREAD_FROM with bad rows (bad quoting, no DN), CRLFs inside quoted values and empty lines throughout; written once. */
let large: { file: string; rows: string[] } | undefined;
function largeFile(): { file: string; rows: string[] } {
  if (large) return large;
  const rows = ['objectClass,DN,proxyAddresses,targetAddress,mail,mailNickname,displayName'];
  for (let i = 0, size = 0; size < THREAD_FROM + (1 << 20); size += rows[rows.length - 1]!.length + 1, i++) {
    const name = `"CN=User ${i}\\, Test,OU=Staff,DC=contoso,DC=edu"`;
    const afterBadQuoting = rows[rows.length - 1]!.includes('"x,');
    if (i % 997 === 5)
      rows.push(`user,${name},"SMTP:q${i}@contoso.edu"x,,,q${i},Q`); // bad quoting
    else if (afterBadQuoting) rows.push(`contact,${name},SMTP:u${i}@contoso.edu,SMTP:u${i}@live.contoso.edu,,u${i},Plain`);
    else if (i % 1009 === 7)
      rows.push(`user,,SMTP:nodn${i}@contoso.edu,,,n${i},N`); // no DN
    else if (i % 1013 === 9)
      rows.push(''); // an empty line
    else if (i % 101 === 3) rows.push(`user,${name},SMTP:u${i}@contoso.edu,,,u${i},"two\r\nlines ${i}"`);
    else rows.push(`contact,${name},SMTP:u${i}@contoso.edu,SMTP:u${i}@live.contoso.edu,,u${i},User ${i} Ünïcode`);
  }
  const file = join(dir, 'large.csv');
  writeFileSync(file, rows.join('\n') + '\n');
  return (large = { file, rows });
}

describe('Csvde parsed on its own thread', () => {
  it.each(FIXTURES)('%s reads the same on both threads', async (file) => {
    const inline = await read(csvFixture(file), false);
    const threaded = await read(csvFixture(file), true);
    expect(threaded).toEqual(inline);
    if ('items' in inline) expect(inline.items.length).toBeGreaterThan(0);
  });

  it('a missing file is named the same way', async () => {
    const missing = join(dir, 'missing.csv');
    expect(await read(missing, true)).toEqual({ thrown: 'CsvdeFileError: missing.csv: cannot read: ENOENT' });
    expect(await read(missing, false)).toEqual(await read(missing, true));
  });

  it('a file over THREAD_FROM, with bad rows, multi-line values and empty lines throughout, reads the same and in order', async () => {
    const { file, rows } = largeFile();
    const threaded = await read(file, true);
    const inline = await read(file, false);
    expect(threaded).toEqual(inline);
    if (!('items' in inline)) throw new Error(inline.thrown);
    const origins = inline.items.map((i) => ('entry' in i ? (i.entry.origin ?? '') : i.error.origin));
    const lines = origins.map((o) => Number(o.split(':')[1]));
    expect(lines).toEqual([...lines].sort((a, b) => a - b)); // file order kept across batches
    const errorLines = inline.items.flatMap((i) => ('error' in i ? [Number(i.error.origin.split(':')[1])] : []));
    // csv-parse loses its footing after a bad quote until the next quote: the record after
    // it is lost too, and reported on its own line (as in fixtures/csvde/bad-rows.csv)
    let line = 1; // each row's first physical line (a CRLF inside a quoted value adds one)
    const expected = rows.flatMap((row) => {
      const first = line;
      line += 1 + (row.match(/\r\n/g)?.length ?? 0);
      return row.includes('"x,') ? [first, first + 1] : row.startsWith('user,,') ? [first] : [];
    });
    expect(errorLines).toEqual(expected);
    expect(inline.bytes).toBe(Buffer.byteLength(rows.join('\n') + '\n'));
  });
  it('the built CLI imports such a file through its bundled parsing thread (dist/cli/parse-worker.js)', async () => {
    const { file } = largeFile();
    const inline = await read(file, false);
    if (!('items' in inline)) throw new Error(inline.thrown);
    const env = await testEnv();
    try {
      const r = await runCli(
        ['import', file, '--source', 'corp', '--skip-invalid', '--inline', '--json', '--allow-mass-delete'],
        env.configFile,
      );
      expect(r.stderr).not.toMatch(/parse-worker|reading thread/);
      expect(r.code).toBe(0);
      const out = JSON.parse(r.stdout) as { counts: { objects: number; invalid: number } };
      expect(out.counts.invalid).toBe(inline.items.filter((i) => 'error' in i).length);
      expect(out.counts.objects).toBe(inline.items.filter((i) => 'entry' in i).length);
    } finally {
      await env.cleanup();
    }
  });

  it('a thread started ahead (prefetchCsvde) reads the same; a small file gets none; one prefetch, one reader; closed, its reader ends', async () => {
    const { file } = largeFile();
    const inline = await read(file, false);
    const prefetched = prefetchCsvde(file);
    if (prefetched === undefined) throw new Error('a file over THREAD_FROM got no thread');
    const items: ReadItem[] = [];
    let bytes = 0;
    for await (const batch of readCsvde(file, { prefetched, onBytes: (b) => (bytes = b) })) items.push(...batch);
    expect({ items, bytes }).toEqual(inline);
    expect(() => prefetched.batches()).toThrow(/taken already/);
    await prefetched.close(); // after the read: nothing left to stop
    expect(prefetchCsvde(csvFixture('contoso.csv'))).toBeUndefined();
    const other = prefetchCsvde(file)!;
    await expect(readCsvde(join(dir, 'other.csv'), { prefetched: other }).next()).rejects.toThrow(
      /prefetched .*large\.csv, not .*other\.csv/,
    );
    await other.close();
    // closed while its reader is in the middle: the reader gets what had arrived, then an error, never a hang
    const closed = prefetchCsvde(file)!;
    const reader = readCsvde(file, { prefetched: closed });
    expect((await reader.next()).done).toBe(false);
    await closed.close();
    await expect(
      (async () => {
        for await (const batch of reader) void batch;
      })(),
    ).rejects.toThrow(/parse-worker\.[jt]s was closed/);
  });

  it('a prefetch never read holds no process open; a queued import (a worker reads the file) ends by itself', async () => {
    const { file } = largeFile();
    // the compiled module, in a process of its own that starts the thread and does nothing
    // else (a script file: under `node -e` the process ended with the thread running, unref or not)
    const module = join(BIN, '..', '..', 'dist', 'src', 'directory', 'csvde', 'parse-thread.js');
    const script = join(dir, 'prefetch-only.mjs');
    writeFileSync(
      script,
      `const m = await import(${JSON.stringify(module)});\nif (!m.prefetchCsvde(${JSON.stringify(file)})) process.exit(3);\n`,
    );
    const code = await new Promise<number | string>((resolve) => {
      execFile(process.execPath, [script], { timeout: 15_000 }, (err) =>
        resolve(err ? ((err as { signal?: string }).signal ?? Number((err as { code?: number }).code)) : 0),
      );
    });
    expect(code).toBe(0);
    // the CLI prefetches, then finds a worker and queues the import: it must stop its own
    // thread, and exit 0 by itself (bin/switchyard.js exits explicitly only on a failure)
    const env = await testEnv();
    const worker = await startWorker({ config: env.config, log: createLogger('test-worker', 'silent') });
    try {
      const r = await runCli(['import', file, '--source', 'corp', '--skip-invalid', '--allow-mass-delete', '--json'], env.configFile, {
        timeoutMs: 30_000,
      });
      expect(r.stderr).not.toMatch(/parse-worker|reading thread/);
      expect(r.code).toBe(0);
      expect((JSON.parse(r.stdout) as { version: number }).version).toBe(1);
    } finally {
      await worker.close();
      await env.cleanup();
    }
  });
});
