/** src/log/levels.ts answers "would this line be written" as pino itself does, without loading it. */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { levelEnabled } from '../../src/log/levels.js';

describe('levelEnabled', () => {
  it('agrees with pino for every configured and wanted level', () => {
    const names = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
    for (const configured of names) {
      const log = pino({ level: configured }, { write: () => undefined });
      for (const wanted of names.filter((n) => n !== 'silent')) expect(levelEnabled(configured, wanted)).toBe(log.isLevelEnabled(wanted));
    }
  });

  it('says yes for a level name it does not know (pino reports it when the logger is made)', () => {
    expect(levelEnabled('verbose', 'info')).toBe(true);
  });
});
