/** PROXY protocol v1 and v2 headers as load balancers send them (HAProxy's spec, section 2). */
import { describe, expect, it } from 'vitest';
import { parseProxyHeader } from '../../src/relay/proxy-protocol.js';

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
function v2(command: number, family: number, body: Buffer): Buffer {
  const head = Buffer.alloc(4);
  head[0] = 0x20 | command;
  head[1] = family;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIG, head, body]);
}
const v4body = Buffer.from([10, 9, 9, 9, 192, 0, 2, 25, 0xc3, 0x50, 0, 25]);

describe('PROXY header', () => {
  it('v1 TCP4 and TCP6', () => {
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 10.9.9.9 192.0.2.25 50000 25\r\nEHLO x\r\n'))).toEqual({
      kind: 'ok',
      length: 41,
      source: { address: '10.9.9.9', port: 50000 },
    });
    expect(parseProxyHeader(Buffer.from('PROXY TCP6 2001:DB8::1 2001:db8::25 4000 25\r\n'))).toMatchObject({
      kind: 'ok',
      source: { address: '2001:db8::1', port: 4000 },
    });
  });
  it('v1 UNKNOWN (health check) has no source', () => {
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'))).toEqual({ kind: 'ok', length: 15 });
  });
  it('v2 PROXY over IPv4 and IPv6, with TLVs after the addresses', () => {
    const withTlv = Buffer.concat([v4body, Buffer.from([0x04, 0x00, 0x01, 0x00])]);
    expect(parseProxyHeader(Buffer.concat([v2(1, 0x11, withTlv), Buffer.from('EHLO')]))).toEqual({
      kind: 'ok',
      length: 16 + 16,
      source: { address: '10.9.9.9', port: 50000 },
    });
    const v6 = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000001', 'hex').copy(v6, 0);
    v6.writeUInt16BE(4000, 32);
    expect(parseProxyHeader(v2(1, 0x21, v6))).toMatchObject({ kind: 'ok', source: { address: '2001:db8::1', port: 4000 } });
  });
  it('v2 LOCAL (the balancer health check) has no source', () => {
    expect(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0)))).toEqual({ kind: 'ok', length: 16 });
  });
  it('waits for the rest of a header split over packets', () => {
    const whole = v2(1, 0x11, v4body);
    for (const n of [1, 5, 12, 15, 20]) expect(parseProxyHeader(whole.subarray(0, n))).toEqual({ kind: 'incomplete' });
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 10.9.9.9'))).toEqual({ kind: 'incomplete' });
  });
  it('refuses what is not a valid header', () => {
    expect(parseProxyHeader(Buffer.from('EHLO client\r\n')).kind).toBe('invalid');
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 10.9.9 192.0.2.25 50000 25\r\n')).kind).toBe('invalid');
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 10.9.9.9 192.0.2.25 99999 25\r\n')).kind).toBe('invalid');
    expect(parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(120)}`)).kind).toBe('invalid');
    const badVersion = v2(1, 0x11, v4body);
    badVersion[12] = 0x11;
    expect(parseProxyHeader(badVersion).kind).toBe('invalid');
  });
});
