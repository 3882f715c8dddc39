/**
 * Delivery outcomes (SPEC §5): retries after 4xx, DSNs after 5xx and after the queue
 * lifetime, RFC 3461 parameters passed on per recipient, NOTIFY=NEVER, the null sender,
 * and TLS policy towards next hops.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { sendMail } from '../helpers/smtp.js';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeTestCa } from '../../testkit/embedded-slapd.js';
import { createQueueStore } from '../../src/mailqueue/store.js';

let t: RelayEnv | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

/** The message/delivery-status part of a DSN, as field maps (per-message, then per-recipient). */
function reportFields(text: string): Record<string, string>[] {
  const part = /Content-Type: message\/delivery-status[^\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*?)\r\n--/.exec(text)?.[1] ?? '';
  return part.split(/\r\n\r\n/).map((block) =>
    Object.fromEntries(
      block
        .split('\r\n')
        .filter(Boolean)
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1).trim()]),
    ),
  );
}

describe('delivery', () => {
  it('retries after a 4xx and delivers exactly once when the next hop recovers', async () => {
    let refusals = 2;
    t = await relayEnv({
      sinks: { onprem: { rcptReply: () => (refusals-- > 0 ? { code: 451, message: '4.3.2 try later' } : undefined) } },
    });
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'] });
    await t.sinks.onprem.waitFor(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(t.sinks.onprem.messages).toHaveLength(1);
    expect(t.sinks.internet.messages).toHaveLength(0); // no DSN for a delivered message
  });

  it('bounces a recipient the next hop refuses with 5xx: a DSN reaches the sender with the right fields', async () => {
    t = await relayEnv({
      sinks: { onprem: { rcptReply: (a) => (a.startsWith('ada') ? { code: 550, message: '5.1.1 mailbox gone' } : undefined) } },
    });
    await sendMail({
      port: t.port,
      from: 'sender@example.org',
      to: ['ada.lovelace@contoso.edu', 'brian.lovelace@contoso.edu'],
      dsn: { envid: 'ENV-42', ret: 'HDRS' },
    });
    const [delivered] = await t.sinks.onprem.waitFor(1);
    expect(delivered?.rcpts.map((r) => r.address)).toEqual(['brian.lovelace@contoso.edu']);
    const [dsn] = await t.sinks.internet.waitFor(1);
    expect(dsn?.from).toBe('');
    expect(dsn?.rcpts.map((r) => r.address)).toEqual(['sender@example.org']);
    expect(dsn?.text).toMatch(/^Auto-Submitted: auto-replied\r$/m);
    expect(dsn?.text).toMatch(/Content-Type: multipart\/report; report-type=delivery-status;/);
    const [perMessage, perRcpt, extra] = reportFields(dsn?.text ?? '');
    expect(perMessage).toMatchObject({ 'Reporting-MTA': 'dns;mx.test.contoso.edu', 'Original-Envelope-Id': 'ENV-42' });
    expect(perRcpt).toMatchObject({
      'Final-Recipient': 'rfc822;ada.lovelace@contoso.edu',
      Action: 'failed',
      Status: '5.1.1',
      'Diagnostic-Code': 'smtp;550 5.1.1 mailbox gone',
    });
    expect(perRcpt?.['Remote-MTA']).toMatch(/^dns;127\.0\.0\.1:\d+$/);
    expect(extra).toBeUndefined();
    expect(dsn?.text).toContain('Content-Type: text/rfc822-headers'); // RET=HDRS
  });

  it('bounces with 5.4.7 when the next hop stays down past the queue lifetime', async () => {
    t = await relayEnv({ relay: { maxQueueLifetime: '2s' } });
    await t.sinks.legacy.close();
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['nobody@contoso.edu'] });
    const [dsn] = await t.sinks.internet.waitFor(1, 15_000);
    const [, perRcpt] = reportFields(dsn?.text ?? '');
    expect(perRcpt).toMatchObject({ Action: 'failed', Status: '5.4.7', 'Final-Recipient': 'rfc822;nobody@contoso.edu' });
  });

  it('sends a delay notice once after relay.delayWarning, then keeps trying', async () => {
    let refuse = true;
    t = await relayEnv({
      relay: { delayWarning: '500ms' },
      sinks: { legacy: { rcptReply: () => (refuse ? { code: 452, message: '4.2.2 over quota' } : undefined) } },
    });
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['nobody@contoso.edu'] });
    const [notice] = await t.sinks.internet.waitFor(1, 15_000);
    const [, perRcpt] = reportFields(notice?.text ?? '');
    expect(perRcpt).toMatchObject({ Action: 'delayed', Status: '4.2.2' });
    expect(perRcpt?.['Will-Retry-Until']).toBeDefined();
    refuse = false;
    await t.sinks.legacy.waitFor(1, 15_000);
    expect(t.sinks.internet.messages).toHaveLength(1);
  });

  it('honours NOTIFY=NEVER and never bounces the null sender', async () => {
    t = await relayEnv({ sinks: { onprem: { rcptReply: () => ({ code: 550, message: '5.1.1 no' }) } } });
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'], dsn: { notify: 'NEVER' } });
    await sendMail({ port: t.port, from: '', to: ['brian.lovelace@contoso.edu'] });
    await new Promise((r) => setTimeout(r, 1500));
    expect(t.sinks.internet.messages).toHaveLength(0);
    expect(t.sinks.onprem.messages).toHaveLength(0);
  });

  it('passes NOTIFY, ORCPT, RET and ENVID on to a DSN-capable next hop, per recipient', async () => {
    t = await relayEnv();
    const conn = await sendMail({
      port: t.port,
      from: 'sender@example.org',
      to: ['ada.lovelace@contoso.edu'],
      dsn: { notify: 'SUCCESS,FAILURE', ret: 'FULL', envid: 'E1', orcpt: 'rfc822;alias@contoso.edu' },
    });
    expect(conn.accepted).toHaveLength(1);
    const [m] = await t.sinks.onprem.waitFor(1);
    expect(m?.mailArgs).toMatchObject({ RET: 'FULL', ENVID: 'E1' });
    expect(m?.rcpts[0]?.args).toMatchObject({ NOTIFY: 'SUCCESS,FAILURE', ORCPT: 'rfc822;alias@contoso.edu' });
    await new Promise((r) => setTimeout(r, 500));
    expect(t.sinks.internet.messages).toHaveLength(0); // the next hop reports success itself
  });

  it('sends a "relayed" DSN when NOTIFY=SUCCESS was asked and the next hop lacks DSN', async () => {
    t = await relayEnv({ sinks: { onprem: { dsn: false } } });
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'], dsn: { notify: 'SUCCESS' } });
    const [m] = await t.sinks.onprem.waitFor(1);
    expect(m?.rcpts[0]?.args).toEqual({});
    const [dsn] = await t.sinks.internet.waitFor(1);
    const [, perRcpt] = reportFields(dsn?.text ?? '');
    expect(perRcpt).toMatchObject({ Action: 'relayed', Status: '2.0.0', 'Final-Recipient': 'rfc822;ada.lovelace@contoso.edu' });
  });
});

describe('TLS', () => {
  it('never sends in clear to a tls: required connector whose next hop offers no STARTTLS; the message waits', async () => {
    t = await relayEnv({
      adjust: (raw) => {
        const c = (raw.connectors as { name: string; tls: string }[]).find((x) => x.name === 'onprem');
        if (c) c.tls = 'required';
      },
    });
    await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'] });
    await new Promise((r) => setTimeout(r, 1500));
    expect(t.sinks.onprem.messages).toHaveLength(0);
    expect(t.sinks.internet.messages).toHaveLength(0); // deferred, not bounced
    const depth = await createQueueStore(t.env.redis, t.env.keys).depth();
    expect(depth.ready + depth.active).toBe(1);
  });

  it('accepts STARTTLS inbound and delivers over verified TLS to a tls: required connector', async () => {
    const ca = await makeTestCa(join(mkdtempSync(join(tmpdir(), 'sy-tls-')), 'ca'));
    t = await relayEnv({
      start: false,
      sinks: { onprem: { tls: { key: readFileSync(ca.keyFile), cert: readFileSync(ca.certFile) } } },
      relay: { tls: { key: ca.keyFile, cert: ca.certFile } },
      adjust: (raw) => {
        const c = (raw.connectors as { name: string; tls: string; caFile?: string; smartHosts: string[] }[]).find(
          (x) => x.name === 'onprem',
        );
        if (c) Object.assign(c, { tls: 'required', caFile: ca.caFile });
      },
    });
    // the sink's certificate names 127.0.0.1 (the smart host as configured)
    await t.startRelay();
    const r = await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'], requireTls: true });
    expect(r.accepted).toHaveLength(1);
    const [m] = await t.sinks.onprem.waitFor(1);
    expect(m?.text).toMatch(/with ESMTPS id/);
  });
});

describe('outbound sender rewriting and DKIM', () => {
  it('rewrites a targetAddress sender to the primary address (envelope and From:) and signs for the shared domain', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-dkim-'));
    const keyFile = join(dir, 'dkim.key');
    const { execFileSync } = await import('node:child_process');
    execFileSync('openssl', ['genrsa', '-out', keyFile, '2048'], { stdio: 'ignore' });
    t = await relayEnv({
      adjust: (raw) => {
        const c = (raw.connectors as { name: string }[]).find((x) => x.name === 'internet');
        if (c)
          Object.assign(c, { rewriteOutboundSender: true, dkim: { domain: 'contoso.edu', selector: 'sy2026', privateKeyFile: keyFile } });
      },
    });
    const body =
      'From: Ada Ivanov <Ada.Ivanov@live.contoso.edu>\r\nTo: <friend@example.org>\r\nSubject: hi\r\n\r\nReply to me at ada.ivanov@live.contoso.edu.\r\n';
    await sendMail({ port: t.port, from: 'Ada.Ivanov@live.contoso.edu', to: ['friend@example.org', 'brian.lovelace@contoso.edu'], body });
    const [out] = await t.sinks.internet.waitFor(1);
    expect(out?.from).toBe('ada.ivanov@contoso.edu');
    expect(out?.text).toMatch(/^From: Ada Ivanov <ada\.ivanov@contoso\.edu>\r$/m);
    expect(out?.text).toContain('Reply to me at ada.ivanov@live.contoso.edu.'); // the body is not touched
    expect(out?.text).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=contoso\.edu;/m);
    expect(out?.text).toMatch(/s=sy2026;/);
    // a recipient inside the organisation gets the message as sent
    const [inside] = await t.sinks.onprem.waitFor(1);
    expect(inside?.from).toBe('Ada.Ivanov@live.contoso.edu');
    expect(inside?.text).toMatch(/^From: Ada Ivanov <Ada\.Ivanov@live\.contoso\.edu>\r$/m);
    expect(inside?.text).not.toContain('DKIM-Signature');
  });
});

describe('smart host AUTH', () => {
  it('authenticates to a next hop that requires it, with the password from the environment', async () => {
    process.env.SY_TEST_SMARTHOST_PASSWORD = 's3cret-for-tests';
    t = await relayEnv({
      sinks: { internet: { auth: { user: 'relay@contoso.edu', pass: 's3cret-for-tests' } } },
      adjust: (raw) => {
        const c = (raw.connectors as { name: string }[]).find((x) => x.name === 'internet');
        if (c) Object.assign(c, { auth: { user: 'relay@contoso.edu', passwordEnv: 'SY_TEST_SMARTHOST_PASSWORD' } });
      },
    });
    await sendMail({ port: t.port, from: 'ada.lovelace@contoso.edu', to: ['friend@example.org'] });
    const [m] = await t.sinks.internet.waitFor(1);
    expect(m?.rcpts.map((r) => r.address)).toEqual(['friend@example.org']);
  });
});
