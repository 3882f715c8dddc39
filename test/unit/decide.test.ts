/** Every SPEC §4 decision path, on the pure decision function with hand-made lookup results. */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { classify, decide, routingContext, type LookupResult } from '../../src/routing/decide.js';
import type { RecipientObject } from '../../src/routing/object.js';
import { demoConfigObject } from '../helpers/env.js';

const ctx = routingContext(parseConfig(demoConfigObject('unit', 'redis://127.0.0.1:1'), 'unit.yaml', {}));
const mailbox: RecipientObject = { source: 'corp', id: 'CN=a', dn: 'CN=a', kind: 'mailbox', addresses: ['Ada@contoso.edu'] };
const student: RecipientObject = { ...mailbox, source: 'students', id: 'CN=s', dn: 'CN=s' };
const contact: RecipientObject = {
  source: 'corp',
  id: 'CN=c',
  dn: 'CN=c',
  kind: 'contact',
  addresses: ['c@contoso.edu'],
  target: 'Carol@Partner.example',
};
const mailUser: RecipientObject = {
  source: 'corp',
  id: 'CN=m',
  dn: 'CN=m',
  kind: 'mailUser',
  addresses: ['m@contoso.edu'],
  target: 'm@live.contoso.edu',
};

function run(address: string, lookup: LookupResult, trusted = false) {
  const c = classify(address, ctx, trusted);
  return c.kind === 'final' ? c.decision : decide(c, lookup, ctx);
}
const BOTH = ['corp', 'students'];
const found = (object?: RecipientObject, sources: readonly string[] = BOTH): LookupResult =>
  object ? { state: 'ok', version: 7, sources, object } : { state: 'ok', version: 7, sources };

describe('routing decision', () => {
  it('501 5.1.3 for bad syntax, before anything else', () => {
    expect(run('a b@contoso.edu', found(mailbox))).toMatchObject({
      action: 'reject',
      reason: 'syntax',
      smtp: '501 5.1.3 Bad recipient address syntax',
    });
  });

  it('mailbox: its source mailbox connector, recipient unchanged (case kept)', () => {
    expect(run('ADA@Contoso.edu', found(mailbox))).toMatchObject({
      action: 'route',
      recipient: 'ADA@Contoso.edu',
      connector: 'onprem',
      reason: 'mailbox',
      tableVersion: 7,
      object: { source: 'corp', id: 'CN=a', dn: 'CN=a' },
      smtp: '250 2.1.5 Accepted',
    });
    expect(run('ada@contoso.edu', found(student))).toMatchObject({ connector: 'cloud', reason: 'mailbox' });
  });

  it('targetAddress: rewritten, routed by the target domain (address space, then default)', () => {
    expect(run('m@contoso.edu', found(mailUser))).toMatchObject({
      recipient: 'm@live.contoso.edu',
      connector: 'cloud',
      reason: 'target-address',
    });
    expect(run('c@contoso.edu', found(contact))).toMatchObject({
      recipient: 'Carol@Partner.example',
      connector: 'internet',
      reason: 'target-address',
    });
  });

  it('unknown: 550 5.1.1 in an authoritative domain, nextHop in an internalRelay domain', () => {
    expect(run('x@students.contoso.edu', found())).toMatchObject({
      action: 'reject',
      reason: 'unknown-recipient',
      smtp: '550 5.1.1 Recipient address rejected: user unknown',
    });
    expect(run('X@contoso.edu', found())).toMatchObject({
      action: 'route',
      recipient: 'X@contoso.edu',
      connector: 'legacy',
      reason: 'internal-relay',
    });
  });

  it('*.domain covers subdomains only; an exact entry wins over the wildcard', () => {
    expect(run('x@chem.lab.contoso.edu', found())).toMatchObject({ reason: 'unknown-recipient' });
    expect(run('x@a.b.lab.contoso.edu', found())).toMatchObject({ reason: 'unknown-recipient' });
    // lab.contoso.edu itself is not covered by *.lab.contoso.edu: not accepted
    expect(run('x@lab.contoso.edu', found())).toMatchObject({ reason: 'relay-denied' });
    const exact = routingContext(
      parseConfig(
        {
          ...demoConfigObject('u', 'redis://x:1'),
          domains: [
            { name: '*.contoso.edu', type: 'authoritative' },
            { name: 'live.contoso.edu', type: 'externalRelay', connector: 'cloud' },
          ],
        },
        'u.yaml',
        {},
      ),
    );
    const c = classify('x@live.contoso.edu', exact, false);
    expect(c.kind === 'final' && c.decision.reason).toBe('external-relay');
  });

  it('externalRelay: its connector, no lookup', () => {
    const c = classify('anyone@live.contoso.edu', ctx, false);
    expect(c.kind).toBe('final');
    expect(c.kind === 'final' && c.decision).toMatchObject({
      connector: 'cloud',
      reason: 'external-relay',
      recipient: 'anyone@live.contoso.edu',
    });
  });

  it('non-accepted domains: outbound for trusted clients, 554 5.7.1 otherwise, never a lookup', () => {
    expect(classify('a@example.org', ctx, false)).toMatchObject({
      kind: 'final',
      decision: { action: 'reject', reason: 'relay-denied', smtp: '554 5.7.1 Relay access denied' },
    });
    expect(classify('a@example.org', ctx, true)).toMatchObject({
      kind: 'final',
      decision: { action: 'route', connector: 'internet', reason: 'outbound' },
    });
    expect(classify('a@[192.0.2.1]', ctx, false)).toMatchObject({ kind: 'final', decision: { reason: 'relay-denied' } });
  });

  it('451 4.3.0 before the first publish and when the table is unavailable; never 5xx', () => {
    for (const lookup of [{ state: 'no-table' }, { state: 'unavailable', error: 'ECONNREFUSED' }] as LookupResult[]) {
      for (const a of ['x@students.contoso.edu', 'x@contoso.edu']) {
        const d = run(a, lookup);
        expect(d).toMatchObject({ action: 'defer', reason: 'temporary-failure' });
        expect(d.smtp).toMatch(/^451 4\.3\.0 /);
      }
    }
  });

  it('an incomplete version never says 550: unknown in an authoritative domain is 451 4.3.0', () => {
    for (const present of [['corp'], ['students'], []]) {
      const d = run('x@students.contoso.edu', found(undefined, present));
      expect(d).toMatchObject({ action: 'defer', reason: 'temporary-failure', tableVersion: 7 });
      expect(d.smtp).toMatch(/^451 4\.3\.0 Routing table incomplete/);
    }
    // what the incomplete version holds still routes; internalRelay still forwards
    expect(run('ada@contoso.edu', found(mailbox, ['corp']))).toMatchObject({ action: 'route', reason: 'mailbox' });
    expect(run('x@contoso.edu', found(undefined, ['corp']))).toMatchObject({ connector: 'legacy', reason: 'internal-relay' });
    // a source in the table that left the config does not make it incomplete
    expect(run('x@students.contoso.edu', found(undefined, [...BOTH, 'gone']))).toMatchObject({ reason: 'unknown-recipient' });
  });

  it('postmaster@ an authoritative domain is always accepted (SPEC §5)', () => {
    // no relay.postmaster: the highest-priority source's mailbox connector, recipient unchanged
    for (const present of [BOTH, ['corp']]) {
      expect(run('PostMaster@students.contoso.edu', found(undefined, present))).toMatchObject({
        action: 'route',
        recipient: 'PostMaster@students.contoso.edu',
        connector: 'onprem',
        reason: 'mailbox',
        smtp: '250 2.1.5 Accepted',
      });
    }
    // the directory holds it: routed as the directory says
    expect(run('postmaster@students.contoso.edu', found(student))).toMatchObject({ connector: 'cloud', object: { source: 'students' } });
    const withAddress = (postmaster: string) =>
      routingContext(parseConfig({ ...demoConfigObject('u', 'redis://x:1'), relay: { postmaster } }, 'u.yaml', {}));
    const pm = (postmaster: string) => {
      const c = withAddress(postmaster);
      const p = classify('postmaster@xo.one', c, false);
      return p.kind === 'final' ? p.decision : decide(p, found(), c);
    };
    expect(pm('hostmaster@xo.one')).toMatchObject({ recipient: 'hostmaster@xo.one', connector: 'onprem', reason: 'target-address' });
    expect(pm('noc@live.contoso.edu')).toMatchObject({ recipient: 'noc@live.contoso.edu', connector: 'cloud' });
    expect(pm('noc@partner.example')).toMatchObject({ recipient: 'noc@partner.example', connector: 'internet' });
  });

  it('targetAddress: the accepted domain of the target before address spaces (SPEC §4.5)', () => {
    // cloud lists no address space, internet is `*`: the externalRelay domain's connector still wins
    const noSpaces = routingContext(
      parseConfig(
        {
          ...demoConfigObject('u', 'redis://x:1'),
          connectors: [
            { name: 'onprem', smartHosts: ['127.0.0.1:2601'], tls: 'none' },
            { name: 'cloud', smartHosts: ['127.0.0.1:2602'], tls: 'none' },
            { name: 'legacy', smartHosts: ['127.0.0.1:2603'], tls: 'none' },
            { name: 'internet', addressSpaces: ['*'], smartHosts: ['127.0.0.1:2604'], tls: 'none' },
          ],
        },
        'u.yaml',
        {},
      ),
    );
    const via = (target: string, c = noSpaces) => {
      const p = classify('m@students.contoso.edu', c, false);
      return p.kind === 'final' ? p.decision : decide(p, found({ ...mailUser, target }), c);
    };
    expect(via('m@live.contoso.edu')).toMatchObject({ recipient: 'm@live.contoso.edu', connector: 'cloud', reason: 'target-address' });
    // an internalRelay target domain: its nextHop, not the `*` connector
    expect(via('m@contoso.edu')).toMatchObject({ recipient: 'm@contoso.edu', connector: 'legacy', reason: 'target-address' });
    // not accepted: the address spaces (`*` here)
    expect(via('m@partner.example')).toMatchObject({ connector: 'internet' });
    // an authoritative target domain is not accepted-domain routed: address spaces
    expect(via('m@xo.one')).toMatchObject({ connector: 'internet' });
    // no address space at all → 451 4.4.0
    const none = routingContext(
      parseConfig(
        {
          ...demoConfigObject('u', 'redis://x:1'),
          connectors: [{ name: 'onprem', smartHosts: ['127.0.0.1:1'], tls: 'none' }],
          domains: [{ name: 'xo.one', type: 'authoritative' }],
          sources: [{ name: 'corp', type: 'csvde', mailboxConnector: 'onprem' }],
        },
        'u.yaml',
        {},
      ),
    );
    const d = (() => {
      const p = classify('m@xo.one', none, false);
      return p.kind === 'final' ? p.decision : decide(p, found({ ...mailUser, target: 'm@partner.example' }, ['corp']), none);
    })();
    expect(d).toMatchObject({ action: 'defer', reason: 'temporary-failure', smtp: expect.stringMatching(/^451 4\.4\.0 /) });
  });
});
