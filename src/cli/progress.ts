/**
 * Progress for long work: a bar on a terminal, plain lines (at most one every few
 * seconds) otherwise, written to stderr so stdout stays machine-readable.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, detail: string): void;
  stop(): void;
}

export function createProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {detail}`, stream, hideCursor: true, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(total, 1), 0, { detail: '' });
    return {
      update: (done, detail) => bar.update(Math.min(done, total), { detail }),
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  return {
    update(done, detail) {
      const now = Date.now();
      if (now - last < 5000) return;
      last = now;
      const pct = total > 0 ? ` ${Math.floor((100 * done) / total)}%` : '';
      stream.write(`${label}:${pct} ${detail}\n`);
    },
    stop() {},
  };
}
