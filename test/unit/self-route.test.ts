/**
 * The self-route check compares resolved addresses, not spellings (issue 12 item 7): each of
 * the probe's spellings of this machine is refused for a connector, on a loopback and on a
 * wildcard listener, and config validation names the key.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { canonicalHost, pointsAtListener, selfRoutesByName } from '../../src/config/self-route.js';

const PORT = 2525;
const own = new Set<string>(['mx1.contoso.edu']);
const listeners = [[`127.0.0.1:${PORT}`], [`0.0.0.0:${PORT}`], [`[::]:${PORT}`]];

function refused(smartHost: string): string[] {
  try {
    parseConfig({ connectors: [{ name: 'loop', smartHosts: [smartHost] }], relay: { listen: [`127.0.0.1:${PORT}`] } }, 'probe.yaml', {});
    return [];
  } catch (err) {
    return [...((err as { problems?: string[] }).problems ?? [String(err)])];
  }
}

describe('self-route check by resolved address', () => {
  it.each(listeners)('127.1:PORT points at listener %s', (listen) => {
    expect(pointsAtListener(`127.1:${PORT}`, [listen], own)).toBe(true);
  });
  it.each(listeners)('0.0.0.0:PORT points at listener %s', (listen) => {
    expect(pointsAtListener(`0.0.0.0:${PORT}`, [listen], own)).toBe(true);
  });
  it.each(listeners)('[::ffff:127.0.0.1]:PORT points at listener %s', (listen) => {
    expect(pointsAtListener(`[::ffff:127.0.0.1]:${PORT}`, [listen], own)).toBe(true);
  });
  it.each(listeners)('LOCALHOST.:PORT points at listener %s', (listen) => {
    expect(pointsAtListener(`LOCALHOST.:${PORT}`, [listen], own)).toBe(true);
  });

  it.each(['127.1', '0.0.0.0', '[::ffff:127.0.0.1]', 'LOCALHOST.'])('config validation refuses %s:PORT naming the key', (host) => {
    expect(refused(`${host}:${PORT}`)).toContain(
      `connectors[0].smartHosts[0]: "${host}:${PORT}" is this relay's own listener (relay.listen); mail would loop`,
    );
  });

  it('another port, another host, and a remote address are not the listener', () => {
    expect(pointsAtListener(`127.1:${PORT + 1}`, [`127.0.0.1:${PORT}`], own)).toBe(false);
    expect(pointsAtListener(`10.0.0.10:${PORT}`, [`0.0.0.0:${PORT}`], own)).toBe(false);
    expect(pointsAtListener(`[::ffff:10.0.0.10]:${PORT}`, [`127.0.0.1:${PORT}`], own)).toBe(false);
    expect(refused(`10.0.0.10:${PORT}`)).toEqual([]);
  });

  it('canonical spellings', () => {
    expect(canonicalHost('127.1')).toBe('127.0.0.1');
    expect(canonicalHost('0x7f.1')).toBe('127.0.0.1');
    expect(canonicalHost('[::ffff:127.0.0.1]')).toBe('127.0.0.1');
    expect(canonicalHost('LOCALHOST.')).toBe('127.0.0.1');
    expect(canonicalHost('[0:0:0:0:0:0:0:1]')).toBe('::1');
    expect(canonicalHost('MX1.Contoso.EDU.')).toBe('mx1.contoso.edu');
  });

  it('a smart host given by a name is compared by what it resolves to (the resolver, not the spelling)', async () => {
    const name = 'localhost'; // in every /etc/hosts

    const problems = await selfRoutesByName([{ smartHosts: ['192.0.2.10:25', `${name}:${PORT}`] }], [`0.0.0.0:${PORT}`], own);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      new RegExp(`^connectors\\[0\\]\\.smartHosts\\[1\\]: "${name}:${PORT}" resolves to \\S+, this relay's own listener`),
    );
    expect(await selfRoutesByName([{ smartHosts: [`${name}:${PORT + 1}`, 'no-such-host.invalid:25'] }], [`0.0.0.0:${PORT}`], own)).toEqual(
      [],
    );
  });
});
