/**
 * B4's decision times from a relay at LOG_LEVEL=info, as it runs in production: the relay's own
 * `switchyard_rcpt_decision_seconds` histogram (src/metrics/metrics.ts), scraped from its
 * /metrics before and after a phase. The relay observes the same seconds it logs at debug
 * (src/relay/server.ts), so nothing is lost but resolution. A percentile is the nearest-rank
 * one the debug run computes from the logged times (bench/rcpt-sampler.ts: the value at index
 * ⌊q·n⌋ of the sorted times): known to its bucket, printed with a linear estimate inside it.
 * Whether p99 ≤ 1 ms is exact (1 ms is a bucket bound), and so is the share over 1 ms.
 */

const METRIC = 'switchyard_rcpt_decision_seconds';

/** Cumulative counts by upper bound (seconds; +Inf last), as the relay reported them. */
export type Buckets = ReadonlyMap<number, number>;

export interface HistogramReport {
  readonly decisions: number;
  /** Share of the decisions over 1 ms (exact). */
  readonly over1ms: number;
  /** The nearest-rank p99 is ≤ 1 ms (exact; false with no decisions). */
  readonly p99Within1ms: boolean;
  /** The p99 estimate (ms): linear inside its bucket; Infinity past the last finite bound, NaN with no decisions. */
  readonly p99: number;
  readonly text: string;
}

/** Parses the decision histogram's buckets out of a Prometheus text exposition. */
export function parseBuckets(exposition: string): Buckets {
  const out = new Map<number, number>();
  const re = new RegExp(`^${METRIC}_bucket\\{(?:[^}]*,)?le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm');
  for (const m of exposition.matchAll(re)) {
    const le = m[1] === '+Inf' ? Infinity : Number(m[1]);
    out.set(le, (out.get(le) ?? 0) + Number(m[2]));
  }
  if (out.size === 0) throw new Error(`/metrics has no ${METRIC} buckets`);
  return out;
}

/** The relay's decision histogram now (its admin HTTP's /metrics). */
export async function scrapeBuckets(adminUrl: string): Promise<Buckets> {
  const res = await fetch(`${adminUrl}/metrics`);
  if (!res.ok) throw new Error(`GET ${adminUrl}/metrics: ${res.status}`);
  return parseBuckets(await res.text());
}

/** The count of decisions up to and including the nearest-rank q-quantile: the value at index ⌊q·n⌋ of n sorted. */
const rankOf = (q: number, total: number): number => Math.min(total, Math.floor(q * total) + 1);

/** Where quantile q falls between two scrapes: the bucket's bounds (ms) and a linear estimate inside it. */
function quantile(bounds: readonly number[], counts: readonly number[], total: number, q: number): { lo: number; hi: number; est: number } {
  if (total === 0) return { lo: NaN, hi: NaN, est: NaN };
  const rank = rankOf(q, total);
  for (let i = 0; i < bounds.length; i++) {
    const below = i === 0 ? 0 : (counts[i - 1] as number);
    const upTo = counts[i] as number;
    if (upTo >= rank) {
      const lo = i === 0 ? 0 : (bounds[i - 1] as number) * 1000;
      const hi = (bounds[i] as number) * 1000;
      const est = hi === Infinity ? Infinity : lo + ((hi - lo) * (rank - below)) / Math.max(1, upTo - below);
      return { lo, hi, est };
    }
  }
  return { lo: Infinity, hi: Infinity, est: Infinity };
}

/** The decisions observed between two scrapes of the same relay. */
export function between(before: Buckets, after: Buckets): HistogramReport {
  const bounds = [...after.keys()].sort((x, y) => x - y);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  // a relay process started again between the scrapes (relay.processes > 1) counts from zero
  if (counts.some((c, i) => c < 0 || (i > 0 && c < (counts[i - 1] as number))))
    throw new Error(`${METRIC} went backwards between two scrapes (a relay process restarted?)`);
  const total = counts[counts.length - 1] ?? 0;
  const within1ms = counts[bounds.indexOf(0.001)];
  if (within1ms === undefined) throw new Error(`${METRIC} has no 1 ms bucket bound`);
  const over1ms = total === 0 ? NaN : (total - within1ms) / total;
  const p99Within1ms = total > 0 && within1ms >= rankOf(0.99, total);
  const fmt = (v: { lo: number; hi: number; est: number }): string =>
    Number.isNaN(v.est) ? 'none' : v.hi === Infinity ? `over ${v.lo} ms` : `~${v.est.toFixed(3)} ms (in ${v.lo}–${v.hi} ms)`;
  const p50 = quantile(bounds, counts, total, 0.5);
  const p99 = quantile(bounds, counts, total, 0.99);
  const p999 = quantile(bounds, counts, total, 0.999);
  const text = `over 1 ms ${(over1ms * 100).toFixed(2)} % (exact), p50 ${fmt(p50)}, p99 ${fmt(p99)}, p99.9 ${fmt(p999)}`;
  return { decisions: total, over1ms, p99Within1ms, p99: p99.est, text };
}
