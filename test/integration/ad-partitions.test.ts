/**
 * Parallel partitioned full reads against a real AD (Samba AD DC): uSNChanged ranges split
 * from the rootDSE's highestCommittedUSN, on separate connections, read exactly the scope.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapSourceConfig } from '../../src/config/schema.js';
import { syncSource } from '../../src/pipeline/sync-source.js';
import type { TestEnv } from '../helpers/env.js';
import { cleanupAd, seededAd, type SeededAd, type SeededSamba } from '../helpers/samba.js';

let dc: SeededSamba;
let env: TestEnv;
let secrets: SeededAd['secrets'];

beforeAll(async () => {
  ({ dc, env, secrets } = await seededAd());
}, 120_000);
afterAll(() => cleanupAd({ dc, env }));

const source = (patch: Partial<LdapSourceConfig> = {}): LdapSourceConfig => ({ ...(env.source('corp-ad') as LdapSourceConfig), ...patch });

describe('partitioned full sync from a real AD (Samba)', () => {
  it('reads uSNChanged ranges on parallel connections: the same objects as one search, then a delta from its watermark', async () => {
    const plain = await syncSource(env.deps, source(), { env: secrets, dryRun: true });
    const parted = await syncSource(env.deps, source({ partitions: { by: 'usn', connections: 3 } }), { env: secrets });
    expect(parted.partitions).toEqual({ searches: 3, connections: 3 });
    expect(parted.counts).toMatchObject({ objects: plain.counts.objects, added: plain.counts.objects, invalid: 0 });
    expect(plain.counts.objects).toBe(20);
    // the watermark was still read before the searches: a delta right after finds nothing
    const delta = await syncSource(env.deps, source({ partitions: { by: 'usn', connections: 3 } }), { env: secrets, mode: 'delta' });
    expect(delta.mode).toBe('delta');
    expect(delta.counts).toMatchObject({ added: 0, changed: 0, removed: 0 });
  });
});
