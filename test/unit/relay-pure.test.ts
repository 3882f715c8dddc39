/** Pure parts of the relay: content checks, header scans, loop marker, DSN, retry plan. */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/config/duration.js';
import { pointsAtListener } from '../../src/config/self-route.js';
import { buildDsn, statusFromReply } from '../../src/delivery/dsn.js';
import { backoff, plan, wants } from '../../src/delivery/outcome.js';
import { xtext } from '../../src/delivery/smtp-client.js';
import { selectEntries } from '../../src/mailqueue/select.js';
import type { QueueEntry } from '../../src/mailqueue/store.js';
import type { QueuedRecipient } from '../../src/mailqueue/types.js';
import { headerEnd, receivedHeader, scanHeaders } from '../../src/message/headers.js';
import { HeaderBlock, LineChecker } from '../../src/message/stream-scan.js';
import { createHopMarker, MARKER_HEADER, recipientToken } from '../../src/message/loop-marker.js';
import { trustedNetworks } from '../../src/relay/trust.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('content checks', () => {
  it('accepts CRLF text and long lines, finds bare LF and NUL, across chunk boundaries', () => {
    const check = (...chunks: string[]) => {
      const c = new LineChecker();
      for (const chunk of chunks) c.update(b(chunk));
      return c.problem;
    };
    expect(check('A: b\r\n\r\nbody\r\n')).toBeUndefined();
    expect(check('A: b\r\n\r\nbody')).toBeUndefined();
    expect(check('A: b\n\r\n')).toBe('bareLf');
    expect(check('\nX')).toBe('bareLf');
    expect(check('A: b\r\n\r\nx\0y\r\n')).toBe('nulByte');
    // lines over 998 characters are passed on unchanged (SPEC §5, as Postfix does)
    expect(check(`${'a'.repeat(5000)}\r\n`)).toBeUndefined();
    // CR at the end of one chunk, LF at the start of the next: fine; LF alone at a chunk start: bare
    expect(check('A: b\r', '\nbody\r\n')).toBeUndefined();
    expect(check('A: b', '\nbody\r\n')).toBe('bareLf');
  });

  it('finds the end of the header block across chunks and keeps only its start', () => {
    const h = new HeaderBlock(8);
    expect(h.update(b('Subject: x\r'))).toBe(11);
    expect(h.update(b('\n\r'))).toBe(2);
    expect(h.update(b('\nbody\r\n'))).toBe(1);
    expect(h.end).toBe(14);
    expect(h.head.toString()).toBe('Subject:');
    expect(h.update(b('more'))).toBe(0);
    const empty = new HeaderBlock(100);
    expect(empty.update(b('\r\nbody'))).toBe(2);
    expect(empty.end).toBe(2);
    const none = new HeaderBlock(100);
    none.update(b('no blank line\r\n'));
    expect(none.end).toBeUndefined();
    expect(none.total).toBe(15);
  });

  it('counts Received headers and collects folded markers in the header block only', () => {
    const msg = b(
      `Received: a\r\n\tb\r\nreceived: c\r\n${MARKER_HEADER}: v=1; r=AAA,\r\n\tBBB\r\nSubject: x\r\n\r\nReceived: not a header\r\n`,
    );
    expect(scanHeaders(msg, MARKER_HEADER)).toEqual({ received: 2, markers: ['v=1; r=AAA,\tBBB'] });
    expect(headerEnd(msg)).toBe(msg.indexOf('Received: not'));
    expect(headerEnd(b('\r\nbody'))).toBe(2);
  });

  it('renders a folded Received header with the protocol and the recipient of a single-recipient message', () => {
    const h = receivedHeader({
      helo: 'client (evil)',
      clientHostname: '[10.0.0.1]',
      clientIp: '10.0.0.1',
      by: 'mx.contoso.edu',
      id: 'Q1',
      tls: true,
      authenticated: false,
      smtputf8: false,
      recipient: 'a@contoso.edu',
      at: new Date(Date.UTC(2026, 10, 23, 10, 0, 0)),
    });
    expect(h).toBe(
      'Received: from clientevil ([10.0.0.1])\r\n\tby mx.contoso.edu (Switchyard) with ESMTPS id Q1\r\n\tfor <a@contoso.edu>;\r\n\tMon, 23 Nov 2026 10:00:00 +0000\r\n',
    );
  });
});

describe('loop marker', () => {
  it('matches a recipient case-insensitively under the same secret only', () => {
    const s1 = createHopMarker('s1');
    const header = s1.header(['Nobody@Contoso.edu', 'x@y.z']);
    const value = header.slice(header.indexOf(':') + 1).replace(/\r\n/g, '');
    expect([...s1.looped([value], ['nobody@contoso.edu', 'other@contoso.edu'])]).toEqual(['nobody@contoso.edu']);
    expect(createHopMarker('s2').looped([value], ['nobody@contoso.edu']).size).toBe(0);
    expect(recipientToken('s1', 'A@B.C')).toBe(recipientToken('s1', 'a@b.c'));
  });

  it('computes each token once per marker, the same as the HMAC, past its cache size too', () => {
    const hmac = (secret: string, a: string): string => createHmac('sha256', secret).update(a).digest('base64url').slice(0, 12);
    const markers = { k1: createHopMarker('k1'), k2: createHopMarker('k2') };
    const tokenIn = (header: string): string => header.slice(header.indexOf('r=') + 2).trim();
    // 20,000 addresses (over the 16,384 kept) twice per marker, k1 then k2 then k1 again: hits and misses
    for (const secret of ['k1', 'k2', 'k1'] as const)
      for (let round = 0; round < 2; round++)
        for (let i = 0; i < 20_000; i++) {
          const address = i % 2 === 0 ? `User${i}@Contoso.edu` : `user${i}@contoso.edu`;
          expect(tokenIn(markers[secret].header([address]))).toBe(hmac(secret, `user${i}@contoso.edu`));
        }
    expect(markers.k1.header(['a@b.c'])).not.toBe(markers.k2.header(['a@b.c']));
  });

  it('folds long recipient lists under 78 characters per line', () => {
    const m = createHopMarker('s');
    const header = m.header(Array.from({ length: 50 }, (_, i) => `user${i}@contoso.edu`));
    for (const line of header.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
    const value = header.slice(header.indexOf(':') + 1).replace(/\r\n/g, '');
    expect(m.looped([value], ['user49@contoso.edu']).size).toBe(1);
  });
});

describe('DSN', () => {
  const original = b('Subject: hello\r\nFrom: a@b.c\r\n\r\nBody text\r\n');
  const input = {
    reportingMta: 'mx.contoso.edu',
    sender: 'a@b.c',
    envid: 'E1',
    arrived: Date.UTC(2026, 0, 1),
    queueId: 'Q1',
    original,
    now: Date.UTC(2026, 0, 2),
    recipients: [
      {
        orig: 'x@contoso.edu',
        final: 'x@live.contoso.edu',
        action: 'failed' as const,
        status: '5.1.1',
        diagnostic: '550 5.1.1 no such user',
        remoteMta: 'cloud:25',
      },
    ],
  };

  it('is a multipart/report with the RFC 3464 fields and only the headers unless RET=FULL', () => {
    const text = buildDsn(input).body.toString();
    expect(text).toMatch(
      /^From: Mail Delivery System <MAILER-DAEMON@mx\.contoso\.edu>\r\nTo: <a@b\.c>\r\nSubject: Undelivered Mail Returned to Sender\r\n/,
    );
    expect(text).toContain('Auto-Submitted: auto-replied\r\n');
    expect(text).toContain('Original-Envelope-Id: E1\r\n');
    expect(text).toContain(
      'Original-Recipient: rfc822;x@contoso.edu\r\nFinal-Recipient: rfc822;x@live.contoso.edu\r\nAction: failed\r\nStatus: 5.1.1\r\nRemote-MTA: dns;cloud:25\r\nDiagnostic-Code: smtp;550 5.1.1 no such user\r\n',
    );
    expect(text).toContain('Content-Type: text/rfc822-headers');
    expect(text).not.toContain('Body text');
    const full = buildDsn({ ...input, ret: 'FULL' }).body.toString();
    expect(full).toContain('Content-Type: message/rfc822');
    expect(full).toContain('Body text');
    const lines = new LineChecker();
    lines.update(buildDsn(input).body);
    expect(lines.problem).toBeUndefined();
  });

  it('takes the status from the reply, or the fallback', () => {
    expect(statusFromReply('550 5.7.1 denied', '5.0.0')).toBe('5.7.1');
    expect(statusFromReply('550 denied', '5.0.0')).toBe('5.0.0');
  });
});

describe('retry plan', () => {
  const r = (rcpt: string, notify?: QueuedRecipient['notify']): QueuedRecipient => ({
    rcpt,
    orig: rcpt,
    reason: 'mailbox',
    ...(notify ? { notify } : {}),
  });
  const base = { now: 10_000, arrived: 0, lifetimeMs: 100_000, warned: false };

  it('keeps deferred recipients, bounces failures unless NOTIFY excludes them, relays success only when asked', () => {
    const p = plan({
      ...base,
      outcomes: [
        { kind: 'deferred', rcpt: r('a'), reply: '451 4.3.0 later' },
        { kind: 'failed', rcpt: r('b'), reply: '550 5.1.1 no', status: '5.1.1' },
        { kind: 'failed', rcpt: r('c', ['NEVER']), reply: '550 5.1.1 no', status: '5.1.1' },
        { kind: 'delivered', rcpt: r('d', ['SUCCESS']), reply: '250 ok', host: 'h', dsnPassed: false },
        { kind: 'delivered', rcpt: r('e', ['SUCCESS']), reply: '250 ok', host: 'h', dsnPassed: true },
      ],
    });
    expect(p.keep.map((x) => x.rcpt)).toEqual(['a']);
    expect(p.failed.map((x) => x.final)).toEqual(['b']);
    expect(p.relayed.map((x) => x.final)).toEqual(['d']);
    expect(p.lastError).toBe('451 4.3.0 later');
  });

  it('expires deferred recipients after the lifetime with 5.4.7 and warns once after delayWarning', () => {
    const expired = plan({ ...base, now: 100_000, outcomes: [{ kind: 'deferred', rcpt: r('a'), reply: '421 4.4.2 gone' }] });
    expect(expired.failed[0]).toMatchObject({ status: '5.4.7', action: 'failed' });
    expect(expired.keep).toEqual([]);
    const warn = plan({ ...base, delayWarningMs: 5000, outcomes: [{ kind: 'deferred', rcpt: r('a'), reply: '421 4.4.2 gone' }] });
    expect(warn.delayed[0]).toMatchObject({ action: 'delayed', status: '4.4.2', willRetryUntil: 100_000 });
    expect(warn.warned).toBe(true);
    expect(
      plan({ ...base, delayWarningMs: 5000, warned: true, outcomes: [{ kind: 'deferred', rcpt: r('a'), reply: '421' }] }).delayed,
    ).toEqual([]);
  });

  it('backs off from the first delay, doubling, up to the cap', () => {
    const mid = () => 0.5;
    expect([1, 2, 3, 4, 10].map((n) => backoff(n, 60_000, 3_600_000, mid))).toEqual([60_000, 120_000, 240_000, 480_000, 3_600_000]);
    expect(wants(undefined, 'SUCCESS')).toBe(false);
    expect(wants(undefined, 'DELAY')).toBe(true);
  });
});

describe('small helpers', () => {
  it('parses durations', () => {
    expect(['250ms', '30s', '5m', '4h', '5d'].map(parseDuration)).toEqual([250, 30_000, 300_000, 14_400_000, 432_000_000]);
    expect(() => parseDuration('5 days')).toThrow(/not a duration/);
  });

  it('knows a smart host that is the relay itself', () => {
    const own = new Set(['10.1.1.1', 'mx1.contoso.edu']);
    expect(pointsAtListener('127.0.0.1:25', ['0.0.0.0:25'], own)).toBe(true);
    expect(pointsAtListener('mx1.contoso.edu', ['0.0.0.0:25'], own)).toBe(true);
    expect(pointsAtListener('[10.1.1.1]:25', ['[::]:25'], own)).toBe(true);
    expect(pointsAtListener('localhost:2525', ['127.0.0.1:2525'], own)).toBe(true);
    expect(pointsAtListener('127.0.0.1:2601', ['127.0.0.1:2525'], own)).toBe(false);
    expect(pointsAtListener('10.0.0.10:25', ['0.0.0.0:25'], own)).toBe(false);
  });

  it('matches trusted networks, IPv4-mapped addresses included', () => {
    const t = trustedNetworks(['10.0.0.0/8', '127.0.0.1', '::1/128']);
    expect(['10.2.3.4', '::ffff:10.2.3.4', '127.0.0.1', '::1'].map((ip) => t.has(ip))).toEqual([true, true, true, true]);
    expect(['11.0.0.1', '127.0.0.2', '::2'].map((ip) => t.has(ip))).toEqual([false, false, false]);
  });

  it('answers trusted networks the same from its cache, past the cache size too', () => {
    const t = trustedNetworks(['10.0.0.0/16', '192.168.1.0/24', 'fd00::/8']);
    const expected = (ip: string): boolean => {
      const v4 = ip.replace(/^::ffff:/, '');
      return v4.startsWith('10.0.') || v4.startsWith('192.168.1.') || /^fd[0-9a-f]{2}::/.test(ip);
    };
    const ips: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const h = (i % 16).toString(16);
      ips.push(`10.${i % 3}.${i % 251}.${i % 7}`, `::ffff:192.168.${i % 2}.${i % 200}`, `fd${h}${h}::${i}`, `fe80::${i}`);
    }
    for (let round = 0; round < 2; round++) for (const ip of ips) expect(t.has(ip)).toBe(expected(ip));
    expect(['::FFFF:10.0.0.1', '::ffff:10.0.0.1', '::FFFF:10.9.0.1'].map((ip) => t.has(ip))).toEqual([true, true, false]);
    // each list answers from its own cache: a reload's new list is asked afresh
    const other = trustedNetworks(['10.9.0.0/16']);
    expect([t.has('10.0.0.1'), other.has('10.0.0.1'), t.has('10.9.0.1'), other.has('10.9.0.1')]).toEqual([true, false, false, true]);
  });

  it('encodes xtext', () => {
    expect(xtext('a+b=c d')).toBe('a+2Bb+3Dc+20d');
  });

  it('selects queue entries by id, recipient and hop', () => {
    const e = (uid: string, hop: string, rcpt: string): QueueEntry => ({
      uid,
      msg: uid.split('.')[0] ?? '',
      hop,
      rcpts: [{ rcpt, orig: rcpt, reason: 'mailbox' }],
      attempts: 0,
      arrived: 0,
      from: '',
      warned: false,
      held: false,
      state: 'ready',
      at: 0,
    });
    const all = [e('M1.0', 'onprem', 'a@x'), e('M1.1', 'cloud', 'b@x'), e('M2.0', 'onprem', 'B@x')];
    expect(selectEntries(all, { ids: ['m1'] }).map((x) => x.uid)).toEqual(['M1.0', 'M1.1']);
    expect(selectEntries(all, { recipient: 'b@X' }).map((x) => x.uid)).toEqual(['M1.1', 'M2.0']);
    expect(selectEntries(all, { hop: 'onprem', recipient: 'b@x' }).map((x) => x.uid)).toEqual(['M2.0']);
  });
});

describe('From: rewriting', () => {
  it('replaces the address in the From: header only, folded lines included', async () => {
    const { rewriteFromHeader } = await import('../../src/delivery/outbound.js');
    const msg = b('Subject: a@live.x\r\nFrom: "A" \r\n <A@Live.X>\r\nReply-To: a@live.x\r\n\r\nFrom: a@live.x in the body\r\n');
    expect(rewriteFromHeader(msg, 'a@live.x', 'a@x').toString()).toBe(
      'Subject: a@live.x\r\nFrom: A <a@x>\r\nReply-To: a@live.x\r\n\r\nFrom: a@live.x in the body\r\n',
    );
    expect(rewriteFromHeader(b('From: b@y\r\n\r\n'), 'a@live.x', 'a@x').toString()).toBe('From: b@y\r\n\r\n');
  });
});
