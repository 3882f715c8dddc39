/** What a reload would change, and what of it needs a restart (SPEC §5 "Reload"). */
import { describe, expect, it } from 'vitest';
import { configChanges } from '../../src/config/changes.js';
import { parseConfig } from '../../src/config/load.js';

const base = {
  domains: [{ name: 'contoso.edu', type: 'authoritative' }],
  relay: { listen: ['127.0.0.1:2525'], trustedNetworks: ['10.0.0.0/8'] },
};
const config = (raw: Record<string, unknown>) => parseConfig(raw, 'test.yaml', {});

describe('configChanges', () => {
  it('names nothing for the same file', () => {
    expect(configChanges(config(base), config(base))).toEqual({ changed: [], restartRequired: [] });
  });

  it('names top-level lists whole and relay keys one by one', () => {
    const next = {
      domains: [...base.domains, { name: 'fabrikam.example', type: 'authoritative' }],
      relay: { ...base.relay, trustedNetworks: [], maxRecipients: 10 },
    };
    expect(configChanges(config(base), config(next))).toEqual({
      changed: ['domains', 'relay.trustedNetworks', 'relay.maxRecipients'],
      restartRequired: [],
    });
  });

  it('needs a restart for relay.listen, redis, admin.listen and queue.shards', () => {
    const next = {
      ...base,
      relay: { ...base.relay, listen: ['127.0.0.1:2526'] },
      redis: { namespace: 'other' },
      admin: { listen: '127.0.0.1:9000' },
      queue: { shards: 4 },
      table: { versionsKept: 9 },
    };
    const { changed, restartRequired } = configChanges(config(base), config(next));
    expect(changed).toEqual(['redis', 'relay.listen', 'admin.listen', 'table.versionsKept', 'queue.shards']);
    expect(restartRequired).toEqual(['redis', 'relay.listen', 'admin.listen', 'queue.shards']);
  });
});
