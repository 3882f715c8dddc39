/** Durations in the configuration: `250ms`, `30s`, `5m`, `4h`, `5d`. */
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const DURATION = /^(\d+)(ms|s|m|h|d)$/;

export function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m?.[1] || !m[2]) throw new Error(`not a duration: "${text}" (use 250ms, 30s, 5m, 4h or 5d)`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}
