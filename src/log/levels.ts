/**
 * pino's level names and numbers, for a command that wants to know whether a line would be
 * written before it loads pino (src/cli/import-command.ts logs one info line at the end).
 */
const LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Whether a logger at `configured` writes a `wanted` line; an unknown name says yes (pino then reports it). */
export function levelEnabled(configured: string, wanted: keyof typeof LEVELS): boolean {
  const c = LEVELS[configured];
  const w = LEVELS[wanted];
  return c === undefined || w === undefined || w >= c;
}
