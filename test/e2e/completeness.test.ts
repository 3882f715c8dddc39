/**
 * SPEC §3.2 / §4.6: only a complete version (every configured source has a full snapshot
 * in it) may answer 550 5.1.1. Two sources configured, one published: an unknown
 * recipient of an authoritative domain is deferred (resolve and a real SMTP RCPT),
 * /healthz stays ready and names the missing source; once the second publishes, 550.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processAdmin } from '../../src/main/admin.js';
import { createLogger } from '../../src/log/logger.js';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { createResolver } from '../../src/resolver/resolver.js';
import { routingContext } from '../../src/routing/decide.js';
import { csvFixture } from '../helpers/env.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { dialogue } from '../helpers/smtp.js';

let t: RelayEnv;
let admin: ReturnType<typeof processAdmin> | undefined;
beforeEach(async () => {
  // corp and students configured; the helper publishes corp only
  t = await relayEnv({ sources: ['corp', 'students'] });
});
afterEach(async () => {
  await admin?.close();
  admin = undefined;
  await t.cleanup();
});

const rcpt = async (port: number, address: string): Promise<string | undefined> =>
  (await dialogue(port, ['EHLO client.example.org', 'MAIL FROM:<sender@example.org>', `RCPT TO:<${address}>`, 'QUIT']))[3];

describe('completeness of the routing table', () => {
  it('defers unknown recipients while a configured source has not published, then 550 once it has', async () => {
    const resolver = createResolver({ redis: t.env.redis, keys: t.env.keys, context: routingContext(t.env.config) });
    admin = processAdmin(t.env.config, createLogger('completeness-test', 'silent'), {});
    const { url } = await admin.listen({ listen: '127.0.0.1:0' });

    const [unknown, known] = await resolver.resolve(['nobody@chem.lab.contoso.edu', 'Ada.Lovelace@contoso.edu'], false);
    expect(unknown).toMatchObject({
      action: 'defer',
      reason: 'temporary-failure',
      smtp: '451 4.3.0 Routing table incomplete (a configured source has not published yet), try again later',
      tableVersion: 1,
    });
    expect(known).toMatchObject({ action: 'route', reason: 'mailbox', connector: 'onprem' }); // what the table has still routes
    expect(await rcpt(t.port, 'nobody@chem.lab.contoso.edu')).toBe(
      '451 4.3.0 Routing table incomplete (a configured source has not published yet), try again later',
    );
    const health = await fetch(`${url}healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({
      status: 'ready',
      redis: 'ok',
      tableVersion: 1,
      complete: false,
      missingSources: ['students'],
      staleSources: [],
    });
    const status = (await (await fetch(`${url}api/status`)).json()) as { table: Record<string, unknown> };
    expect(status.table).toMatchObject({ complete: false, missingSources: ['students'], staleSources: [] });

    await importCsvde(t.env.deps, t.env.source('students'), csvFixture('students.csv'));
    const [after] = await resolver.resolve(['nobody@chem.lab.contoso.edu'], false);
    expect(after).toMatchObject({
      action: 'reject',
      reason: 'unknown-recipient',
      smtp: '550 5.1.1 Recipient address rejected: user unknown',
      tableVersion: 2,
    });
    expect(await rcpt(t.port, 'nobody@chem.lab.contoso.edu')).toBe('550 5.1.1 Recipient address rejected: user unknown');
    expect(await (await fetch(`${url}healthz`)).json()).toEqual({
      status: 'ready',
      redis: 'ok',
      tableVersion: 2,
      complete: true,
      missingSources: [],
      staleSources: [],
    });
  });

  it('accepts postmaster@ an authoritative domain the directory does not hold, even while incomplete', async () => {
    const [d] = await createResolver({ redis: t.env.redis, keys: t.env.keys, context: routingContext(t.env.config) }).resolve(
      ['Postmaster@chem.lab.contoso.edu'],
      false,
    );
    expect(d).toMatchObject({ action: 'route', recipient: 'Postmaster@chem.lab.contoso.edu', connector: 'onprem', reason: 'mailbox' });
    expect(await rcpt(t.port, 'Postmaster@chem.lab.contoso.edu')).toBe('250 2.1.5 Accepted');
  });
});
