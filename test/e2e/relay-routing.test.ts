/**
 * Every SPEC §4 path over SMTP: a real client sends through the relay, real sinks stand
 * in for the on-premises, cloud and next-hop systems (SPEC §5).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { dialogue, message, sendMail } from '../helpers/smtp.js';
import { writeFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { csvFixture } from '../helpers/env.js';

let t: RelayEnv;
beforeEach(async () => {
  t = await relayEnv();
});
afterEach(async () => t.cleanup());

describe('routing over SMTP', () => {
  it('delivers a mailbox to the on-premises sink, recipient and sender unchanged', async () => {
    const r = await sendMail({ port: t.port, from: 'Sender@Example.org', to: ['Ada.Lovelace@contoso.edu'] });
    expect(r.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Z]+$/);
    const [m] = await t.sinks.onprem.waitFor(1);
    expect(m?.from).toBe('Sender@Example.org');
    expect(m?.rcpts.map((x) => x.address)).toEqual(['Ada.Lovelace@contoso.edu']);
    expect(m?.text).toMatch(
      /^X-Switchyard-Loop: v=1; r=[\w-]+\r\nReceived: from client\.example\.org \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test\.contoso\.edu \(Switchyard\) with ESMTP id [0-9A-Z]+\r\n\tfor <Ada\.Lovelace@contoso\.edu>;/,
    );
    expect(m?.text).toContain('Subject: test');
  });

  it('sends a contact to the cloud sink with the rewritten RCPT and the MAIL FROM unchanged', async () => {
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.ivanov@contoso.edu'] });
    const [m] = await t.sinks.cloud.waitFor(1);
    expect(m?.from).toBe('sender@example.org');
    expect(m?.rcpts).toEqual([{ address: 'ada.ivanov@live.contoso.edu', args: { ORCPT: 'rfc822;ada.ivanov@contoso.edu' } }]);
  });

  it("routes a targetAddress in an externalRelay domain to that domain's connector, not the `*` one (SPEC §4.5)", async () => {
    await t.cleanup();
    // cloud lists no address space; internet serves `*`
    t = await relayEnv({
      adjust: (raw) => {
        for (const c of raw.connectors as { name: string; addressSpaces?: string[] }[]) if (c.name === 'cloud') delete c.addressSpaces;
      },
    });
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.ivanov@contoso.edu'] });
    const [m] = await t.sinks.cloud.waitFor(1);
    expect(m?.rcpts.map((x) => x.address)).toEqual(['ada.ivanov@live.contoso.edu']);
    expect(t.sinks.internet.messages).toHaveLength(0);
  });

  it('forwards an unknown recipient of an internalRelay domain to the next hop, local part as written', async () => {
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['Nobody.Here@contoso.edu'] });
    const [m] = await t.sinks.legacy.waitFor(1);
    expect(m?.rcpts.map((x) => x.address)).toEqual(['Nobody.Here@contoso.edu']);
  });

  it('rejects an unknown recipient of an authoritative domain at RCPT with 550 5.1.1', async () => {
    const replies = await dialogue(t.port, [
      'EHLO client.example.org',
      'MAIL FROM:<sender@example.org>',
      'RCPT TO:<nobody@chem.lab.contoso.edu>',
      'QUIT',
    ]);
    expect(replies[3]).toBe('550 5.1.1 Recipient address rejected: user unknown');
  });

  it("accepts postmaster@ an authoritative domain the directory does not hold (SPEC §5): the first source's mailbox system", async () => {
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['PostMaster@xo.one'] });
    const [m] = await t.sinks.onprem.waitFor(1);
    expect(m?.rcpts.map((x) => x.address)).toEqual(['PostMaster@xo.one']);
  });

  it('sends postmaster@ to relay.postmaster when it is set, rewritten like a targetAddress', async () => {
    await t.cleanup();
    t = await relayEnv({ relay: { postmaster: 'noc@live.contoso.edu' } });
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['postmaster@chem.lab.contoso.edu'] });
    const [m] = await t.sinks.cloud.waitFor(1);
    expect(m?.rcpts.map((x) => x.address)).toEqual(['noc@live.contoso.edu']);
  });

  it('refuses a non-accepted domain from an untrusted client with 554 5.7.1, and relays it for a trusted one', async () => {
    const untrusted = await dialogue(
      t.port,
      ['EHLO client.example.org', 'MAIL FROM:<sender@example.org>', 'RCPT TO:<friend@example.org>', 'QUIT'],
      '127.0.0.2',
    );
    expect(untrusted[3]).toBe('554 5.7.1 Relay access denied');
    await sendMail({ port: t.port, from: 'ada.lovelace@contoso.edu', to: ['friend@example.org'] });
    const [m] = await t.sinks.internet.waitFor(1);
    expect(m?.rcpts.map((x) => x.address)).toEqual(['friend@example.org']);
  });

  it('splits one message for three hops: each sink gets exactly its recipients, in one transaction', async () => {
    const r = await sendMail({
      port: t.port,
      from: 'sender@example.org',
      to: [
        'ada.lovelace@contoso.edu',
        'brian.lovelace@contoso.edu',
        'ada.ivanov@contoso.edu',
        'nobody@contoso.edu',
        'nobody@chem.lab.contoso.edu',
      ],
    });
    expect(r.rejected.map((x) => x.rcpt)).toEqual(['nobody@chem.lab.contoso.edu']);
    const [onprem] = await t.sinks.onprem.waitFor(1);
    const [cloud] = await t.sinks.cloud.waitFor(1);
    const [legacy] = await t.sinks.legacy.waitFor(1);
    expect(onprem?.rcpts.map((x) => x.address).sort()).toEqual(['ada.lovelace@contoso.edu', 'brian.lovelace@contoso.edu']);
    expect(cloud?.rcpts.map((x) => x.address)).toEqual(['ada.ivanov@live.contoso.edu']);
    expect(legacy?.rcpts.map((x) => x.address)).toEqual(['nobody@contoso.edu']);
    await new Promise((r) => setTimeout(r, 300));
    expect([t.sinks.onprem, t.sinks.cloud, t.sinks.legacy].map((s) => s.messages.length)).toEqual([1, 1, 1]);
    expect(t.sinks.internet.messages).toHaveLength(0);
  });

  it('applies a directory change published while the relay runs to the next RCPT', async () => {
    const before = await dialogue(t.port, ['EHLO c', 'MAIL FROM:<s@example.org>', 'RCPT TO:<new.hire@chem.lab.contoso.edu>', 'QUIT']);
    expect(before[3]).toMatch(/^550 5\.1\.1/);
    const dir = mkdtempSync(join(tmpdir(), 'sy-relay-'));
    const file = join(dir, 'contoso.csv');
    const original = readFileSync(csvFixture('contoso.csv'), 'utf8');
    writeFileSync(
      file,
      `${original.trimEnd()}\nuser,"CN=New Hire,OU=Staff,DC=contoso,DC=edu",New Hire,New Hire,Hire,New,New Hire,SMTP:new.hire@chem.lab.contoso.edu,,new.hire@chem.lab.contoso.edu,new.hire,,20260101093000.0Z\n`,
    );
    await importCsvde(t.env.deps, t.env.source('corp'), file);
    const after = await dialogue(t.port, ['EHLO c', 'MAIL FROM:<s@example.org>', 'RCPT TO:<new.hire@chem.lab.contoso.edu>', 'QUIT']);
    expect(after[3]).toBe('250 2.1.5 Accepted');
  });

  it('advertises the extensions of SPEC §5, DSN and ENHANCEDSTATUSCODES included', async () => {
    const [, ehlo] = await dialogue(t.port, ['EHLO client.example.org']);
    for (const ext of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'DSN', 'SIZE 36700160'])
      expect(ehlo).toMatch(new RegExp(`^250[- ]${ext}$`, 'm'));
  });
});

describe('before the first publish', () => {
  it('answers 451 4.3.0 at RCPT, never 5xx, even in an authoritative domain', async () => {
    const u = await relayEnv({ publish: false });
    try {
      const r = await dialogue(u.port, [
        'EHLO c',
        'MAIL FROM:<s@example.org>',
        'RCPT TO:<nobody@chem.lab.contoso.edu>',
        'RCPT TO:<ada.lovelace@contoso.edu>',
        'QUIT',
      ]);
      expect(r[3]).toBe('451 4.3.0 No routing table published yet, try again later');
      expect(r[4]).toBe('451 4.3.0 No routing table published yet, try again later');
    } finally {
      await u.cleanup();
    }
  });
});

export { message };
