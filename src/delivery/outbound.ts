/**
 * Outbound sender rewriting and DKIM (SPEC §5): a message from a trusted client that
 * leaves for a non-accepted domain with an object's targetAddress as its sender
 * (alice@live.contoso.edu) leaves as the object's primary address (alice@contoso.edu),
 * envelope and From:, so replies come back to the shared domain; then it can be
 * DKIM-signed for the shared domain (nodemailer's signer).
 */
import { readFileSync } from 'node:fs';
import MessageParser from 'nodemailer/lib/dkim/message-parser';
import sign from 'nodemailer/lib/dkim/sign';
import { BODY_HASH_ALGO } from '../message/body-hash.js';
import type { ConnectorConfig } from '../config/schema.js';
import { headerEnd } from '../message/headers.js';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The header block with `from` replaced by `to` in its From: header (and nowhere else). */
export function rewriteFromHeader(message: Buffer, from: string, to: string): Buffer {
  const end = headerEnd(message);
  const head = message.subarray(0, end).toString('latin1');
  const pattern = new RegExp(`(^From:(?:[^\\r\\n]|\\r\\n[ \\t])*?)${escape(from)}`, 'gim');
  const rewritten = head.replace(pattern, (_m, prefix: string) => `${prefix}${to}`);
  if (rewritten === head) return message;
  return Buffer.concat([Buffer.from(rewritten, 'latin1'), message.subarray(end)]);
}

export interface Signer {
  /**
   * The DKIM-Signature header line (CRLF-terminated) for a message with this header block
   * and body hash (relaxed/relaxed, sha256, computed as the body streamed in): the body is
   * never read again or held for signing.
   */
  signatureFor(head: Buffer, bodyHash: string): string;
}

/** A DKIM signer per connector that has `dkim` configured (nodemailer's signing function). */
export function dkimSigners(connectors: readonly ConnectorConfig[]): Map<string, Signer> {
  const out = new Map<string, Signer>();
  for (const c of connectors) {
    if (!c.dkim) continue;
    const options = { domainName: c.dkim.domain, keySelector: c.dkim.selector, privateKey: readFileSync(c.dkim.privateKeyFile, 'utf8') };
    out.set(c.name, {
      signatureFor(head, bodyHash) {
        const parser = new MessageParser();
        parser.rawHeaders = head;
        const line = sign(parser.parseHeaders(), BODY_HASH_ALGO, bodyHash, options);
        if (line === false) throw new Error(`DKIM signing for ${c.dkim?.domain ?? '?'} failed: the private key was refused`);
        return `${line}\r\n`;
      },
    });
  }
  return out;
}
