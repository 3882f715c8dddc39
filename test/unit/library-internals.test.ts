/**
 * The library internals this project replaces or reads (src/relay/smtp-server-patches.ts,
 * src/delivery/nodemailer-internals.ts) exist in the installed versions, and the checks
 * that guard them fail loudly when they do not. The behaviours they exist for are tested
 * end to end: per-recipient NOTIFY/ORCPT and SMTPUTF8 (test/e2e/relay-senders.test.ts),
 * enhanced codes (relay-limits, relay-routing), the greeting delay (relay-limits).
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { SMTPConnection as ServerConnection } from 'smtp-server/lib/smtp-connection.js';
import { describe, expect, it } from 'vitest';
import { assertNodemailerInternals } from '../../src/delivery/nodemailer-internals.js';
import { assertSmtpServerInternals } from '../../src/relay/smtp-server-patches.js';

describe('library internals', () => {
  it('the installed nodemailer and smtp-server are the tested releases with the members used', () => {
    expect(() => assertNodemailerInternals()).not.toThrow();
    expect(() => assertSmtpServerInternals()).not.toThrow();
  });

  it('a missing member is named at start-up', () => {
    const proto = SMTPConnection.prototype as unknown as Record<string, unknown>;
    const saved = proto._getDsnRcptToArgs;
    delete proto._getDsnRcptToArgs;
    try {
      expect(() => assertNodemailerInternals()).toThrow(/SMTPConnection lacks _getDsnRcptToArgs/);
    } finally {
      proto._getDsnRcptToArgs = saved;
    }
    const server = ServerConnection.prototype as unknown as Record<string, unknown>;
    const ready = server.connectionReady;
    delete server.connectionReady;
    try {
      expect(() => assertSmtpServerInternals()).toThrow(/SMTPConnection lacks connectionReady/);
    } finally {
      server.connectionReady = ready;
    }
  });
});
