/**
 * B4 at --log-level info reads the relay's decision times from its own histogram
 * (bench/decision-histogram.ts). Against a real exposition of the relay's metrics: the share
 * over 1 ms is exact, and the p99 lands in its bucket on the right side of 1 ms. This also
 * fails when the relay's histogram loses its name or its 1 ms bound, which the bench needs.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { between, parseBuckets } from '../../bench/decision-histogram.js';
import { createEventMetrics } from '../../src/metrics/metrics.js';

async function exposition(decisionsMs: readonly number[], registry = new Registry()): Promise<string> {
  const observer = createEventMetrics(registry);
  for (const ms of decisionsMs) observer.decision('local', 'route', ms / 1000);
  return registry.metrics();
}

describe('the relay decision histogram, read by B4', () => {
  it('counts the share over 1 ms exactly, and puts p99 on the same side of 1 ms', async () => {
    const before = parseBuckets(await exposition([]));
    // 1,000 decisions: 989 at 0.3 ms, then 11 at 1.7 ms: 1.1 % over 1 ms, p99 over 1 ms
    const slow = between(before, parseBuckets(await exposition([...Array<number>(989).fill(0.3), ...Array<number>(11).fill(1.7)])));
    expect(slow.decisions).toBe(1000);
    expect(slow.over1ms).toBeCloseTo(0.011, 10);
    expect(slow.p99).toBeGreaterThan(1);
    expect(slow.p99).toBeLessThanOrEqual(2.5);
    // 990 fast and 10 slow: exactly 1 % over, p99 still within 1 ms
    const edge = between(before, parseBuckets(await exposition([...Array<number>(990).fill(0.3), ...Array<number>(10).fill(1.7)])));
    expect(edge.over1ms).toBeCloseTo(0.01, 10);
    expect(edge.p99).toBeLessThanOrEqual(1);
    expect(edge.text).toContain('over 1 ms 1.00 %');
  });

  it('takes only what was observed between two scrapes of one relay', async () => {
    const registry = new Registry();
    const observer = createEventMetrics(registry);
    for (let i = 0; i < 500; i++) observer.decision('local', 'route', 0.005); // 5 ms, before the phase
    const before = parseBuckets(await registry.metrics());
    for (let i = 0; i < 200; i++) observer.decision('local', 'route', 0.0002);
    const phase = between(before, parseBuckets(await registry.metrics()));
    expect(phase.decisions).toBe(200);
    expect(phase.over1ms).toBe(0);
    expect(phase.p99).toBeLessThanOrEqual(0.25);
  });

  it('fails loudly on an exposition without the histogram', () => {
    expect(() => parseBuckets('# nothing here\n')).toThrow(/switchyard_rcpt_decision_seconds/);
  });
});
