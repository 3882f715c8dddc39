/** Streams `rows` generated lines to a file after a header, in 64 KiB writes with backpressure. */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';

export async function writeRows(path: string, header: string, rows: number, row: (i: number) => string): Promise<void> {
  const out = createWriteStream(path);
  out.write(header);
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    chunk += row(i);
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}
