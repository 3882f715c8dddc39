/** Progress output: a bar on a terminal, sparse plain lines otherwise (SPEC §7). */
import { Writable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import { createProgress } from '../../src/cli/progress.js';

function stream(isTTY: boolean): NodeJS.WriteStream & { text: string } {
  const s = new Writable({
    write(chunk: Buffer, _enc, cb) {
      s.text += chunk.toString();
      cb();
    },
  }) as unknown as NodeJS.WriteStream & { text: string };
  s.text = '';
  Object.assign(s, { isTTY, columns: 100, cursorTo: () => true, clearLine: () => true, moveCursor: () => true });
  return s;
}

describe('progress', () => {
  it('prints plain lines, at most one every 5 s, when not on a terminal', () => {
    vi.useFakeTimers({ now: 100_000 });
    const out = stream(false);
    const p = createProgress('import corp', 1000, out);
    p.update(100, '10 objects written');
    p.update(200, '20 objects written');
    vi.setSystemTime(106_000);
    p.update(500, '50 objects written');
    p.stop();
    vi.useRealTimers();
    expect(out.text).toBe('import corp: 10% 10 objects written\nimport corp: 50% 50 objects written\n');
  });

  it('draws a bar on a terminal', () => {
    const out = stream(true);
    const p = createProgress('import corp', 1000, out);
    p.update(500, '50 objects written');
    p.stop();
    expect(out.text).toContain('import corp [');
    expect(out.text).toContain('50 objects written');
  });
});
