/** deploy/prometheus/alerts.yaml: valid rule groups, and every metric it names is one Switchyard serves. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics/metrics.js';
import { createKeys } from '../../src/store/keys.js';
import type { RedisClient } from '../../src/store/redis.js';

interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

describe('example Prometheus alert rules', () => {
  const file = join(import.meta.dirname, '..', '..', 'deploy', 'prometheus', 'alerts.yaml');
  const doc = parse(readFileSync(file, 'utf8')) as { groups: { name: string; rules: Rule[] }[] };
  const rules = doc.groups.flatMap((g) => g.rules);

  it('has a stale-source alert and an incomplete-table alert, each with severity and summary', () => {
    expect(rules.map((r) => r.alert)).toEqual(expect.arrayContaining(['SwitchyardSourceStale', 'SwitchyardTableIncomplete']));
    for (const r of rules) {
      expect(r.expr).toBeTruthy();
      expect(r.labels?.severity).toMatch(/^(warning|critical)$/);
      expect(r.annotations?.summary).toBeTruthy();
    }
  });

  it('names only metrics the admin /metrics registers (no Redis is read to list them)', () => {
    // registering the gauges reads nothing: their collect() runs only on a scrape
    const metrics = createMetrics({
      redis: {} as RedisClient,
      keys: createKeys('unit'),
      sources: [{ name: 'corp', type: 'csvde', mailboxConnector: 'onprem', priority: 0, deletionThreshold: 500 }],
    });
    const text = rules.map((r) => `${r.expr} ${Object.values(r.annotations ?? {}).join(' ')}`).join('\n');
    const named = new Set(text.match(/switchyard_[a-z_]+/g) ?? []);
    expect(named.size).toBeGreaterThan(0);
    for (const name of named) expect(metrics.registry.getSingleMetric(name), name).toBeDefined();
  });
});
