/**
 * The probe's SMTP inputs (issue 12 item 7), each with its exact input and the reply the
 * RFCs ask for; after each the relay still serves the next client.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/relay/auth.js';
import { makeTestCa } from '../../testkit/embedded-slapd.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { dialogue, sendMail } from '../helpers/smtp.js';

let e: RelayEnv;
beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-probe-'));
  const ca = await makeTestCa(join(dir, 'ca'));
  const usersFile = join(dir, 'users');
  writeFileSync(usersFile, `alice:${await hashPassword('correct horse battery')}\n`);
  e = await relayEnv({ relay: { tls: { key: ca.keyFile, cert: ca.certFile }, auth: { usersFile } } });
});
afterAll(async () => {
  await e.cleanup();
});

const EHLO = 'EHLO client.example.org';
const MAIL = 'MAIL FROM:<sender@example.org>';

async function stillServes(): Promise<void> {
  const r = await sendMail({ port: e.port, from: 'sender@example.org', to: ['brian.lovelace@contoso.edu'] });
  expect(r.response).toMatch(/^250 2\.0\.0/);
}

describe('probe inputs get the reply the RFCs ask for', () => {
  it('invalid UTF-8 in RCPT → 501 5.1.3', async () => {
    const rcpt = Buffer.concat([Buffer.from('RCPT TO:<ada.'), Buffer.from([0xc3, 0x28]), Buffer.from('lovelace@contoso.edu> \r\n')]);
    const r = await dialogue(e.port, [EHLO, `${MAIL} SMTPUTF8`, { raw: rcpt }]);
    expect(r[3]).toMatch(/^501 5\.1\.3 /);
    await stillServes();
  });

  it('non-ASCII MAIL FROM without SMTPUTF8 → 553 5.6.7', async () => {
    const r = await dialogue(e.port, [EHLO, 'MAIL FROM:<jörg@example.org>']);
    expect(r[2]).toBe('553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter (RFC 6531)');
    const ok = await dialogue(e.port, [EHLO, 'MAIL FROM:<jörg@example.org> SMTPUTF8']);
    expect(ok[2]).toMatch(/^250 /);
  });

  it('non-ASCII RCPT TO without SMTPUTF8 → 553 5.6.7', async () => {
    const r = await dialogue(e.port, [EHLO, MAIL, 'RCPT TO:<jörg@contoso.edu>']);
    expect(r[3]).toBe('553 5.6.7 Non-ASCII address requires the SMTPUTF8 parameter (RFC 6531)');
    await stillServes();
  });

  it('AUTH before STARTTLS → 530 5.7.0', async () => {
    const r = await dialogue(e.port, [EHLO, 'AUTH PLAIN AGFsaWNlAGNvcnJlY3QgaG9yc2UgYmF0dGVyeQ==']);
    expect(r[1]).not.toMatch(/AUTH/);
    expect(r[2]).toBe('530 5.7.0 Must issue a STARTTLS command first');
  });

  it('ORCPT with invalid xtext → 501 5.5.4', async () => {
    const r = await dialogue(e.port, [EHLO, MAIL, 'RCPT TO:<ada.lovelace@contoso.edu> NOTIFY=FAILURE ORCPT=rfc822;ädä@contoso.edu']);
    expect(r[3]).toBe('501 5.5.4 ORCPT is not addr-type;xtext (RFC 3461 section 4.2)');
    const ok = await dialogue(e.port, [EHLO, MAIL, 'RCPT TO:<ada.lovelace@contoso.edu> ORCPT=rfc822;john+2Bde@contoso.edu']);
    expect(ok[3]).toMatch(/^250 /);
  });

  it('ENVID over 100 characters → 501 5.5.4', async () => {
    const r = await dialogue(e.port, [EHLO, `${MAIL} ENVID=${'x'.repeat(101)}`]);
    expect(r[2]).toBe('501 5.5.4 ENVID longer than 100 characters (RFC 3461 section 4.4)');
    const ok = await dialogue(e.port, [EHLO, `${MAIL} ENVID=${'x'.repeat(100)}`]);
    expect(ok[2]).toMatch(/^250 /);
  });
});
