/**
 * Stage 4 of `test mailflow --send` (SPEC §11): one probe message per path through the
 * relay's own listener, only to `mailflow.probeRecipients`, each followed by message trace
 * to the hop its decision named; and an unknown recipient of each authoritative domain must
 * get `550 5.1.1` at RCPT. A connector no probe recipient routes to is reported skipped.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { splitHostPort } from '../config/host-port.js';
import type { Resolver } from '../resolver/resolver.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { searchTrace } from '../trace/search.js';
import type { TraceSettings } from '../trace/record.js';
import { fail, skip, verdict, type Check } from './check.js';
import { firstLine, SmtpProbe } from './smtp-probe.js';

export interface SendDeps {
  readonly config: Config;
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly resolver: Resolver;
  readonly trace: Pick<TraceSettings, 'shards' | 'retentionMs'>;
  readonly timeoutMs: number;
}

function listener(config: Config): { host: string; port: number } {
  const { host, port } = splitHostPort(config.relay.listen[0] ?? '127.0.0.1:25', 25);
  return { host: host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host, port };
}

async function openRelay(deps: SendDeps): Promise<SmtpProbe> {
  const { host, port } = listener(deps.config);
  const { probe, greeting } = await SmtpProbe.open(host, port, deps.timeoutMs);
  if (greeting.code !== 220) throw new Error(`relay greeting: ${firstLine(greeting)}`);
  const ehlo = await probe.command(`EHLO mailflow-probe.${deps.config.relay.hostname}`);
  if (ehlo.code !== 250) throw new Error(`relay EHLO: ${firstLine(ehlo)}`);
  return probe;
}

/** Sends one probe; resolves the queue id from the 250, or the refusal. */
async function sendProbe(deps: SendDeps, from: string, rcpt: string): Promise<{ id?: string; reply: string }> {
  const probe = await openRelay(deps);
  try {
    const mail = await probe.command(`MAIL FROM:<${from}>`);
    if (mail.code !== 250) return { reply: firstLine(mail) };
    const r = await probe.command(`RCPT TO:<${rcpt}>`);
    if (r.code !== 250) return { reply: firstLine(r) };
    const token = randomBytes(6).toString('hex');
    const body = [
      `From: <${from}>`,
      `To: <${rcpt}>`,
      `Subject: Switchyard mail-flow probe ${token}`,
      `Message-ID: <mailflow-${token}@${deps.config.relay.hostname}>`,
      `Date: ${new Date().toUTCString()}`,
      'Auto-Submitted: auto-generated',
      '',
      'A probe of `switchyard test mailflow --send`; it can be deleted.',
    ].join('\r\n');
    const done = await probe.data(body);
    const id = /queued as ([0-9A-Za-z]+)/.exec(done.text)?.[1];
    return { ...(id !== undefined ? { id } : {}), reply: firstLine(done) };
  } finally {
    probe.close();
  }
}

/** Polls the message's trace until an attempt for `rcpt` is recorded, or the timeout. */
async function attemptFor(deps: SendDeps, id: string, rcpt: string): Promise<{ hop: string; outcome: string; reply: string } | undefined> {
  const deadline = Date.now() + deps.timeoutMs;
  while (Date.now() < deadline) {
    const [t] = await searchTrace(deps.redis, deps.keys, deps.trace, { id });
    for (const e of t?.events ?? []) {
      if (e.kind !== 'attempt') continue;
      const r = e.results.find((x) => x.rcpt.toLowerCase() === rcpt.toLowerCase() && x.outcome !== 'deferred');
      if (r) return { hop: e.hop, outcome: r.outcome, reply: r.reply };
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

export async function sendChecks(deps: SendDeps): Promise<Check[]> {
  const { config } = deps;
  const from = config.mailflow.from ?? `postmaster@${config.relay.hostname}`;
  const checks: Check[] = [];
  const covered = new Set<string>();
  const decisions = await deps.resolver.resolve(config.mailflow.probeRecipients, true);
  for (const d of decisions) {
    const path = `probe ${d.address}`;
    if (d.action !== 'route' || d.connector === undefined) {
      checks.push(fail('send', path, 'routed', d.smtp));
      continue;
    }
    covered.add(d.connector);
    const expected = `delivered via ${d.connector}`;
    try {
      const sent = await sendProbe(deps, from, d.address);
      if (sent.id === undefined) {
        checks.push(fail('send', path, expected, `not accepted: ${sent.reply}`));
        continue;
      }
      const seen = await attemptFor(deps, sent.id, d.recipient ?? d.address);
      checks.push(
        seen === undefined
          ? fail('send', path, expected, `queued as ${sent.id}; no final attempt in trace within ${deps.timeoutMs} ms`)
          : verdict(
              'send',
              path,
              expected,
              `${seen.outcome} via ${seen.hop}: ${seen.reply}`,
              seen.hop === d.connector && seen.outcome === 'delivered',
            ),
      );
    } catch (err) {
      checks.push(fail('send', path, expected, (err as Error).message));
    }
  }
  for (const c of config.connectors) {
    if (!covered.has(c.name))
      checks.push(skip('send', `connector ${c.name}`, 'a probe delivered', 'skipped: no mailflow.probeRecipients routes here'));
  }
  for (const d of config.domains.filter((x) => x.type === 'authoritative' && !x.name.startsWith('*.'))) {
    const unknown = `mailflow-unknown-${randomBytes(4).toString('hex')}@${d.name}`;
    const path = `unknown recipient @${d.name}`;
    try {
      const probe = await openRelay(deps);
      try {
        await probe.command(`MAIL FROM:<${from}>`);
        const r = await probe.command(`RCPT TO:<${unknown}>`);
        checks.push(verdict('send', path, '550 5.1.1 at RCPT', firstLine(r), /^550 5\.1\.1/.test(firstLine(r))));
      } finally {
        probe.close();
      }
    } catch (err) {
      checks.push(fail('send', path, '550 5.1.1 at RCPT', (err as Error).message));
    }
  }
  return checks;
}
