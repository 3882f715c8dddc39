/** Which table versions retention drops (SPEC §3.2): pure rule, from hand-made histories. */
import { describe, expect, it } from 'vitest';
import { lastFullVersions, versionsToDrop, type RetentionEntry } from '../../src/store/retention.js';

const HOUR = 3_600_000;
const now = Date.parse('2026-11-30T12:00:00Z');
const v = (version: number, hoursAgo: number, states: Record<string, string>): RetentionEntry => ({
  version,
  snapshots: new Map(Object.entries(states)),
  publishedAt: new Date(now - hoursAgo * HOUR).toISOString(),
});

describe('retention', () => {
  // newest first: v6 is being published; corp's full snapshot 1 was published in v1, students' 2 in v2
  const history = [
    v(6, 0, { corp: '1+7', students: '2' }),
    v(5, 1, { corp: '1+6', students: '2' }),
    v(4, 30, { corp: '1+5', students: '2' }),
    v(3, 40, { corp: '1+4', students: '2' }),
    v(2, 50, { corp: '1', students: '2' }),
    v(1, 60, { corp: '1' }),
  ];

  it("keeps each source's last full-sync version: the newest whose state is the bare base", () => {
    expect(lastFullVersions(history)).toEqual(
      new Map([
        ['corp', 2],
        ['students', 6],
      ]),
    );
  });

  it('drops what is neither among the last N, nor younger than keepFor, nor a last full sync', () => {
    expect(versionsToDrop(history, { keep: 2, keepForMs: 0 }, now)).toEqual([4, 3, 1]);
    expect(versionsToDrop(history, { keep: 2, keepForMs: 35 * HOUR }, now)).toEqual([3, 1]);
    expect(versionsToDrop(history, { keep: 5, keepForMs: 0 }, now)).toEqual([1]);
  });

  it('without a bare version left, keeps the oldest holding the base; unread versions are kept', () => {
    const overlays = [v(9, 0, { corp: '1+9' }), v(8, 50, { corp: '1+8' }), v(7, 60, { corp: '1+7' })];
    expect(versionsToDrop(overlays, { keep: 1, keepForMs: 0 }, now)).toEqual([8]);
    expect(
      versionsToDrop([...overlays.slice(0, 1), { version: 8 }, overlays[2] as RetentionEntry], { keep: 1, keepForMs: 0 }, now),
    ).toEqual([]);
  });
});
