/**
 * Message trace and the audit log (SPEC §11, issue 14): what `switchyard trace` and
 * `switchyard audit` print after real SMTP traffic through the relay, through the built CLI.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { traceShard } from '../../src/trace/record.js';
import { runCli } from '../helpers/cli.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { dialogue, message, sendMail } from '../helpers/smtp.js';

let t: RelayEnv | undefined;
afterEach(async () => {
  await t?.cleanup();
  t = undefined;
});

const cli = (args: string[]) => runCli(args, t?.env.configFile ?? '');

interface Event {
  kind: string;
  at: number;
  rcpt?: string;
  action?: string;
  results?: { rcpt: string; outcome: string; host?: string }[];
  due?: number;
  who?: string;
}

async function timelines(args: string[]): Promise<{ id: string; events: Event[] }[]> {
  const r = await cli(['trace', ...args, '--json']);
  return r.stdout
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as { id: string; events: Event[] });
}

/** Polls the CLI until `done` holds of what it prints (trace writes land a few ms after the fact). */
async function until<T>(read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  let v = await read();
  for (let i = 0; i < 100 && !done(v); i++) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

/** A compact line per event, in timeline order, for order assertions. */
const steps = (events: readonly Event[]): string[] =>
  events.flatMap((e) =>
    e.kind === 'rcpt'
      ? [`rcpt ${e.rcpt} ${e.action}`]
      : e.kind === 'attempt'
        ? (e.results ?? []).map((r) => `${r.outcome} ${r.rcpt}`)
        : e.kind === 'operator'
          ? [`operator ${e.action}`]
          : [e.kind],
  );

describe('message trace', () => {
  it('three recipients over two hops, one deferred then delivered, one refused at RCPT: the whole timeline, in order, by recipient and by id', async () => {
    let cloudTries = 0;
    t = await relayEnv({
      sinks: { cloud: { rcptReply: () => (cloudTries++ === 0 ? { code: 451, message: '4.3.0 try again later' } : undefined) } },
    });
    const body = message('traced');
    const messageId = /Message-ID: (<[^>]+>)/.exec(body)?.[1] ?? '';
    const sent = await sendMail({
      port: t.port,
      from: 'sender@example.org',
      to: ['ada.lovelace@contoso.edu', 'ada.ivanov@contoso.edu', 'nobody@chem.lab.contoso.edu'],
      body,
    });
    expect(sent.rejected.map((r) => r.rcpt)).toEqual(['nobody@chem.lab.contoso.edu']);
    const id = /queued as (\w+)/.exec(sent.response)?.[1] ?? '';
    await t.sinks.cloud.waitFor(1);

    const want = [
      'rcpt ada.lovelace@contoso.edu route',
      'rcpt ada.ivanov@contoso.edu route',
      'rcpt nobody@chem.lab.contoso.edu reject',
      'received',
      'delivered ada.lovelace@contoso.edu',
      'deferred ada.ivanov@live.contoso.edu',
      'retry',
      'delivered ada.ivanov@live.contoso.edu',
    ];
    const byRcpt = await until(
      () => timelines(['--recipient', 'ADA.IVANOV@contoso.edu']),
      (v) => steps(v[0]?.events ?? []).length >= want.length,
    );
    expect(byRcpt.map((x) => x.id)).toEqual([id]);
    const events = byRcpt[0]?.events ?? [];
    // the on-premises delivery and the cloud deferral are concurrent: compare each hop's own order
    const s = steps(events);
    expect(s.slice(0, 4)).toEqual(want.slice(0, 4));
    expect(s.filter((x) => x.includes('ivanov') || x === 'retry').slice(1)).toEqual([
      'deferred ada.ivanov@live.contoso.edu',
      'retry',
      'delivered ada.ivanov@live.contoso.edu',
    ]);
    expect(s).toContain('delivered ada.lovelace@contoso.edu');
    const retry = events.find((e) => e.kind === 'retry');
    expect(retry?.due).toBeGreaterThan(retry?.at ?? Infinity);
    for (let i = 1; i < events.length; i++) expect(events[i]?.at).toBeGreaterThanOrEqual(events[i - 1]?.at ?? 0);

    // the same timeline by queue id, by the refused recipient, by sender and by Message-ID
    for (const args of [
      ['--id', id.toLowerCase()],
      ['--recipient', 'nobody@chem.lab.contoso.edu'],
      ['--sender', 'sender@example.org'],
      ['--message-id', messageId],
    ]) {
      const found = await timelines(args);
      expect(
        found.map((x) => x.id),
        args.join(' '),
      ).toEqual([id]);
      expect(steps(found[0]?.events ?? [])).toEqual(s);
    }
    const text = await cli(['trace', '--id', id]);
    expect(text.stdout).toContain(`message ${id}`);
    expect(text.stdout).toMatch(/rcpt {6}<nobody@chem\.lab\.contoso\.edu> refused: 550 5\.1\.1/);
    expect(text.stdout).toMatch(/received {2}from <sender@example\.org> client 127\.0\.0\.1 helo client\.example\.org \(no TLS\)/);
    expect(text.stdout).toMatch(
      /deferred {2}<ada\.ivanov@live\.contoso\.edu> hop cloud host 127\.0\.0\.1:\d+ attempt 1: 451 4\.3\.0 try again later/,
    );
    expect(text.stdout).toMatch(/queued {4}<ada\.ivanov@live\.contoso\.edu> hop cloud: next retry \d{4}-/);
  });

  it('records a refusal at RCPT in a session that never reached DATA, found by --recipient', async () => {
    t = await relayEnv();
    const replies = await dialogue(t.port, [
      'EHLO probe.example.org',
      'MAIL FROM:<s@example.org>',
      'RCPT TO:<ghost@chem.lab.contoso.edu>',
      'QUIT',
    ]);
    expect(replies[3]).toMatch(/^550 5\.1\.1/);
    const found = await until(
      () => timelines(['--recipient', 'ghost@chem.lab.contoso.edu']),
      (v) => v.length > 0,
    );
    expect(found).toHaveLength(1);
    expect(found[0]?.id).toMatch(/^S/);
    expect(steps(found[0]?.events ?? [])).toEqual(['rcpt ghost@chem.lab.contoso.edu reject', 'session-end']);
    expect((await cli(['trace', '--recipient', 'ghost@chem.lab.contoso.edu'])).stdout).toMatch(
      /session S\w+ \(no message accepted\)[\s\S]*closed without a message \(client 127\.0\.0\.1, helo probe\.example\.org\)/,
    );
    expect((await cli(['trace', '--recipient', 'never.seen@contoso.edu'])).code).toBe(1);
  });

  it('an operator queue delete appears in the timeline and in the audit log', async () => {
    t = await relayEnv({
      relay: { retryFirst: '1h', retryMax: '1h' },
      sinks: { legacy: { rcptReply: () => ({ code: 421, message: '4.3.2 down for maintenance' }) } },
    });
    const sent = await sendMail({ port: t.port, from: 'sender@example.org', to: ['nobody@contoso.edu'] });
    const id = /queued as (\w+)/.exec(sent.response)?.[1] ?? '';
    await until(
      () => timelines(['--id', id]),
      (v) => (v[0]?.events ?? []).some((e) => e.kind === 'retry'),
    );
    expect((await cli(['queue', 'delete', id])).stdout).toBe('1 of 1 matching unit(s) deleted\n');
    const [tl] = await timelines(['--id', id]);
    expect(steps(tl?.events ?? []).slice(-3)).toEqual(['deferred nobody@contoso.edu', 'retry', 'operator delete']);
    expect(tl?.events.at(-1)?.who).toMatch(/^os:/);
    const audit = await cli(['audit', '--json']);
    const entries = audit.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { who: string; action: string; what: string; result: string });
    expect(entries).toEqual([expect.objectContaining({ action: 'queue-delete', what: id, result: '1 of 1 unit(s) changed' })]);
    expect(entries[0]?.who).toMatch(/^os:/);
    expect((await cli(['audit', '--since', '1h'])).stdout).toMatch(/os:\S+ {2}queue-delete {2}\w+ {2}→ 1 of 1 unit\(s\) changed/);
  });

  it('a bounce and the DSN sent for it are in the timeline', async () => {
    t = await relayEnv({ sinks: { onprem: { rcptReply: () => ({ code: 550, message: '5.1.1 mailbox gone' }) } } });
    const sent = await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'] });
    const id = /queued as (\w+)/.exec(sent.response)?.[1] ?? '';
    await t.sinks.internet.waitFor(1); // the DSN to sender@example.org
    const [tl] = await until(
      () => timelines(['--id', id]),
      (v) => (v[0]?.events ?? []).some((e) => e.kind === 'dsn'),
    );
    expect(steps(tl?.events ?? [])).toEqual(['rcpt ada.lovelace@contoso.edu route', 'received', 'bounced ada.lovelace@contoso.edu', 'dsn']);
    expect((await cli(['trace', '--id', id])).stdout).toMatch(/dsn {7}failed notice to the sender for <ada\.lovelace@contoso\.edu>/);
  });

  it('events older than trace.retention are gone', async () => {
    t = await relayEnv({ adjust: (raw) => void (raw.trace = { retention: '1500ms' }) });
    const sent = await sendMail({ port: t.port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'] });
    const id = /queued as (\w+)/.exec(sent.response)?.[1] ?? '';
    await t.sinks.onprem.waitFor(1);
    const [tl] = await until(
      () => timelines(['--id', id]),
      (v) => (v[0]?.events ?? []).some((e) => e.kind === 'attempt'),
    );
    expect(tl?.events.map((e) => e.kind)).toEqual(['rcpt', 'received', 'attempt']);
    const shard = t.env.keys.mqShard(traceShard(id));
    const names = [shard.traceTimeline(id), shard.traceIndex('r', 'ada.lovelace@contoso.edu')];
    expect(await t.env.redis.exists(...names)).toBe(2);
    // the message is done: nothing writes these keys again, so they are gone once their TTL has run
    const ttls = await Promise.all(names.map((k) => t!.env.redis.pttl(k)));
    for (const ttl of ttls) expect(ttl).toBeGreaterThan(0);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(1500);
    await new Promise((r) => setTimeout(r, Math.max(...ttls) + 20));
    expect(await t.env.redis.exists(...names)).toBe(0);
    expect(await timelines(['--id', id])).toEqual([]);
    expect(await timelines(['--recipient', 'ada.lovelace@contoso.edu'])).toEqual([]);
  });
});
