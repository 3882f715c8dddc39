/**
 * Outbound sender rewriting for a real mail user (issue 12 item 3, SPEC §5): its
 * targetAddress (alice@live.contoso.edu) is not among its proxy addresses, so only the
 * target index finds it. A trusted client's message to an outside domain through a
 * rewriting connector leaves with envelope sender and From: alice@contoso.edu, signed
 * with DKIM for the shared domain (verified independently); the index follows a delta
 * sync and a rollback.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { publishDelta } from '../../src/pipeline/publish-delta.js';
import type { DirectoryEntry } from '../../src/routing/entry.js';
import { lookup, rollback } from '../../src/store/table.js';
import { verifyDkim } from '../helpers/dkim-verify.js';
import { csvFixture } from '../helpers/env.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { sendMail, type Received } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

const ALICE_DN = 'CN=Alice Smith,OU=Cloud,DC=contoso,DC=edu';
const ALICE_ROW = `user,"${ALICE_DN}",Alice Smith,Alice Smith,Smith,Alice,Alice Smith,"SMTP:alice@contoso.edu;smtp:alice.smith@contoso.edu",SMTP:alice@live.contoso.edu,alice@contoso.edu,alice,X'11aa11aa0123456789abcdef01234567',20200101093000.0Z\n`;

/** The demo directory plus alice, a mail user whose target is none of her addresses. */
function directoryWithAlice(dir: string): string {
  const file = join(dir, 'contoso-alice.csv');
  const base = readFileSync(csvFixture('contoso.csv'), 'utf8');
  writeFileSync(file, (base.endsWith('\n') ? base : `${base}\n`) + ALICE_ROW);
  return file;
}

async function rewritingRelay(): Promise<{ env: RelayEnv; publicKey: KeyObject; csv: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-target-'));
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir, 'dkim.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
  const env = await relayEnv({
    publish: false,
    start: false,
    sinks: { internet: { keep: 'hash' } },
    adjust: (raw) => {
      const c = (raw.connectors as { name: string }[]).find((x) => x.name === 'internet');
      if (c)
        Object.assign(c, { rewriteOutboundSender: true, dkim: { domain: 'contoso.edu', selector: 'sy2026', privateKeyFile: keyFile } });
    },
  });
  const csv = directoryWithAlice(dir);
  await importCsvde(env.env.deps, env.env.source('corp'), csv);
  await env.startRelay();
  return { env, publicKey, csv };
}

async function sendAs(env: RelayEnv, address: string, subject: string, envelope = address): Promise<Received> {
  const before = env.sinks.internet.messages.length;
  const body = `From: "Alice" <${address}>\r\nTo: <friend@example.org>\r\nSubject: ${subject}\r\n\r\nHello from ${address}.\r\n`;
  await sendMail({ port: env.port, from: envelope, to: ['friend@example.org'], body });
  const all = await env.sinks.internet.waitFor(before + 1);
  return all[before] as Received;
}

function expectSigned(m: Received, publicKey: KeyObject): void {
  expect(verifyDkim(m.data, m.bodyRelaxedHash ?? '', publicKey)).toEqual({
    found: true,
    domain: 'contoso.edu',
    bodyHashMatches: true,
    signatureVerifies: true,
  });
}

describe('outbound sender rewriting through the target index', () => {
  it('rewrites envelope sender and From: of a mail user whose target is not a proxy address, and the DKIM signature verifies', async () => {
    const r = await rewritingRelay();
    t = r.env;
    const out = await sendAs(t, 'alice@live.contoso.edu', 'index');
    expect(out.from).toBe('alice@contoso.edu');
    expect(out.text).toMatch(/^From: "?Alice"? <alice@contoso\.edu>\r$/m);
    expect(out.text).not.toContain('live.contoso.edu');
    expectSigned(out, r.publicKey);
  });

  it('rewrites a From: that is a target when the envelope sender is another address (a list or bounce address), and signs', async () => {
    const r = await rewritingRelay();
    t = r.env;
    const out = await sendAs(t, 'alice@live.contoso.edu', 'from only', 'bounces@example.org');
    expect(out.from).toBe('bounces@example.org'); // not a target: the envelope stays
    expect(out.text).toMatch(/^From: "?Alice"? <alice@contoso\.edu>\r$/m);
    expect(out.text).not.toContain('alice@live.contoso.edu');
    expectSigned(out, r.publicKey);
  });

  it('follows a delta that changes the target, and a rollback', async () => {
    const r = await rewritingRelay();
    t = r.env;
    const { env } = t;
    const [stored] = await lookup(env.redis, env.keys, ['alice@contoso.edu']);
    const id = stored?.state === 'ok' ? stored.object?.id : undefined;
    expect(id).toBeDefined();
    const alice: DirectoryEntry = {
      id: id ?? '',
      dn: ALICE_DN,
      objectClass: ['user'],
      proxyAddresses: ['SMTP:alice@contoso.edu', 'smtp:alice.smith@contoso.edu'],
      mail: 'alice@contoso.edu',
      targetAddress: 'SMTP:alice.smith@live.contoso.edu',
      displayName: 'Alice Smith',
      ...(stored?.state === 'ok' && stored.object?.created ? { created: stored.object.created } : {}),
    };
    const before = (await sendAs(t, 'alice@live.contoso.edu', 'before')).from;
    expect(before).toBe('alice@contoso.edu');
    const v1 = (await env.redis.get(env.keys.current)) ?? '';
    const d = await publishDelta(env.deps, { name: 'corp', priority: 10, deletionThreshold: 500 }, [[{ upsert: alice }]], {
      cause: 'sync',
    });
    expect(d.counts.changed + d.counts.added).toBeGreaterThan(0);

    const moved = await sendAs(t, 'alice.smith@live.contoso.edu', 'new target');
    expect(moved.from).toBe('alice@contoso.edu');
    expect(moved.text).toMatch(/^From: "?Alice"? <alice@contoso\.edu>\r$/m);
    expectSigned(moved, r.publicKey);
    const old = await sendAs(t, 'alice@live.contoso.edu', 'old target');
    expect(old.from).toBe('alice@live.contoso.edu'); // no longer anyone's target: unchanged
    expect(old.text).toMatch(/^From: "?Alice"? <alice@live\.contoso\.edu>\r$/m);

    await rollback(env.redis, env.keys, { to: Number(v1), required: ['corp'], keep: 5 });
    expect((await sendAs(t, 'alice@live.contoso.edu', 'rolled back')).from).toBe('alice@contoso.edu');
    expect((await sendAs(t, 'alice.smith@live.contoso.edu', 'rolled back 2')).from).toBe('alice.smith@live.contoso.edu');
  });
});
