/**
 * Stages 2 and 3 of `test mailflow` (SPEC §11): each smart host's greeting, EHLO
 * capabilities, STARTTLS under the connector's policy with the certificate verdict, AUTH
 * where configured and the round trip; then callouts for sampled recipients —
 * `MAIL FROM:<>`, `RCPT TO`, `RSET`, never DATA — at most `ratePerSecond`.
 */
import { readFileSync } from 'node:fs';
import type { ConnectorConfig } from '../config/schema.js';
import { splitHostPort } from '../config/host-port.js';
import { readSecret } from '../config/secrets.js';
import type { Decision } from '../routing/decide.js';
import { fail, pass, verdict, type Check } from './check.js';
import { capabilities, firstLine, SmtpProbe } from './smtp-probe.js';

export interface HopOptions {
  /** Our EHLO name (relay.hostname): a next hop greeting with it is this relay again. */
  readonly hostname: string;
  readonly timeoutMs: number;
  readonly ratePerSecond: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** An open session past EHLO (and STARTTLS/AUTH when the connector wants them), or the failed checks. */
async function session(c: ConnectorConfig, smartHost: string, o: HopOptions, checks: Check[] | undefined): Promise<SmtpProbe | undefined> {
  const { host, port } = splitHostPort(smartHost, 25);
  const path = `connector ${c.name} ${smartHost}`;
  const note = (ch: Check): void => void checks?.push(ch);
  const started = performance.now();
  let probe: SmtpProbe;
  try {
    const opened = await SmtpProbe.open(host, port, o.timeoutMs);
    probe = opened.probe;
    if (opened.greeting.code !== 220) {
      note(fail('nexthop', path, '220 greeting', firstLine(opened.greeting)));
      probe.close();
      return undefined;
    }
    const ehlo = await probe.command(`EHLO ${o.hostname}`);
    const name = (firstLine(ehlo).slice(4).split(/\s/)[0] ?? '').toLowerCase();
    const rtt = Math.round(performance.now() - started);
    if (ehlo.code !== 250) {
      note(fail('nexthop', path, '250 to EHLO', firstLine(ehlo)));
      probe.close();
      return undefined;
    }
    if (name === o.hostname.toLowerCase()) {
      note(fail('nexthop', path, 'another MTA', `greets as ${name}: this relay's own name (mail loop)`));
      probe.close();
      return undefined;
    }
    const caps = capabilities(ehlo);
    note(pass('nexthop', path, '220 greeting, 250 EHLO', `${name} in ${rtt} ms; ${caps.map((x) => x.split(' ')[0]).join(' ')}`));
    const tls = caps.includes('STARTTLS');
    if (c.tls === 'required' && !tls) {
      note(fail('nexthop', path, 'STARTTLS (tls: required)', 'not offered'));
      probe.close();
      return undefined;
    }
    if (c.tls !== 'none' && tls) {
      const ca = c.caFile !== undefined ? readFileSync(c.caFile) : undefined;
      const t = await probe.starttls(host, ca);
      const verify = c.tls === 'required' || ca !== undefined;
      const verdictText = t.authorized
        ? 'certificate verified'
        : `certificate not verified (${t.authorizationError ?? firstLine(t.reply)})`;
      note(
        verdict(
          'nexthop',
          path,
          `STARTTLS (tls: ${c.tls}${verify ? ', verified' : ''})`,
          verdictText,
          t.reply.code === 220 && (t.authorized || !verify),
        ),
      );
      if (t.reply.code !== 220 || (verify && !t.authorized)) {
        probe.close();
        return undefined;
      }
      const again = await probe.command(`EHLO ${o.hostname}`);
      if (again.code !== 250) return undefined;
    } else if (c.tls === 'opportunistic') {
      note(pass('nexthop', path, 'STARTTLS (tls: opportunistic)', 'not offered: plain SMTP'));
    }
    if (c.auth !== undefined) {
      const pass_ =
        readSecret({ env: c.auth.passwordEnv, file: c.auth.passwordFile, key: `connectors.${c.name}.auth.password` }, o.env) ?? '';
      const token = Buffer.from(`\0${c.auth.user}\0${pass_}`).toString('base64');
      const r = await probe.command(`AUTH PLAIN ${token}`);
      note(verdict('nexthop', path, `AUTH as ${c.auth.user}`, firstLine(r), r.code === 235));
      if (r.code !== 235) {
        probe.close();
        return undefined;
      }
    }
    return probe;
  } catch (err) {
    note(fail('nexthop', path, 'reachable', `${(err as Error).message}`));
    return undefined;
  }
}

/** Stage 2: every smart host of every connector. */
export async function nextHopChecks(connectors: readonly ConnectorConfig[], o: HopOptions): Promise<Check[]> {
  const checks: Check[] = [];
  for (const c of connectors) {
    for (const h of c.smartHosts) (await session(c, h, o, checks))?.close();
  }
  return checks;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Stage 3: callouts for the sampled recipients, per connector, on one session to its first reachable smart host. */
export async function calloutChecks(
  connectors: readonly ConnectorConfig[],
  sample: ReadonlyMap<string, readonly Decision[]>,
  o: HopOptions,
): Promise<Check[]> {
  const checks: Check[] = [];
  const gap = 1000 / Math.max(1, o.ratePerSecond);
  for (const c of connectors) {
    const decisions = sample.get(c.name) ?? [];
    if (decisions.length === 0) continue;
    let probe: SmtpProbe | undefined;
    for (const h of c.smartHosts) if ((probe = await session(c, h, o, undefined))) break;
    if (!probe) {
      checks.push(fail('callout', `connector ${c.name}`, 'a reachable next hop', `none of ${c.smartHosts.join(', ')} (see nexthop)`));
      continue;
    }
    try {
      for (const d of decisions) {
        const rcpt = d.recipient ?? d.address;
        const path = `rcpt ${d.address}${rcpt !== d.address ? ` → ${rcpt}` : ''} via ${c.name}`;
        const mail = await probe.command('MAIL FROM:<>');
        if (mail.code !== 250) {
          checks.push(fail('callout', path, '250 to MAIL FROM:<>', firstLine(mail)));
          break;
        }
        const r = await probe.command(`RCPT TO:<${rcpt}>`);
        checks.push(verdict('callout', path, '250 at RCPT', firstLine(r), r.code === 250 || r.code === 251));
        await probe.command('RSET');
        await sleep(gap);
      }
    } catch (err) {
      checks.push(fail('callout', `connector ${c.name}`, 'callouts answered', (err as Error).message));
    } finally {
      probe.close();
    }
  }
  return checks;
}
