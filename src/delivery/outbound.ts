/**
 * Outbound sender rewriting and DKIM (SPEC §5): a message from a trusted client that
 * leaves for a non-accepted domain with an object's targetAddress as its sender
 * (alice@live.contoso.edu) leaves as the object's primary address (alice@contoso.edu),
 * envelope and From:, so replies come back to the shared domain; then it can be
 * DKIM-signed for the shared domain (nodemailer's signer).
 */
import { readFileSync } from 'node:fs';
import addressparser from 'nodemailer/lib/addressparser';
import MessageParser from 'nodemailer/lib/dkim/message-parser';
import sign from 'nodemailer/lib/dkim/sign';
import { BODY_HASH_ALGO } from '../message/body-hash.js';
import { headerEnd } from '../message/headers.js';
import type { ConnectorConfig } from '../config/schema.js';

/** A display name as RFC 5322 allows it: an atom sequence as is, anything else quoted. */
const displayName = (name: string): string => (/^[\w !#$%&'*+/=?^`{|}~-]*$/.test(name) ? name : `"${name.replace(/(["\\])/g, '\\$1')}"`);

/**
 * The message (or its header block) with the mailbox `from` replaced by `to` in its From:
 * field (and nowhere else: not in other fields, not in the body), the field parsed with nodemailer's addressparser: the address changes,
 * a display name that was only the old address goes, other names and mailboxes stay.
 */
export function rewriteFromHeader(message: Buffer, from: string, to: string): Buffer {
  const end = headerEnd(message);
  const head = message.subarray(0, end);
  const text = head.toString('latin1');
  const lower = from.toLowerCase();
  let changed = false;
  const rewritten = text.replace(/^From:((?:[^\r\n]|\r\n[ \t])*)\r\n/gim, (field: string, value: string) => {
    const mailboxes = addressparser(value.replace(/\r\n(?=[ \t])/g, ''), { flatten: true });
    if (!mailboxes.some((m) => m.address.toLowerCase() === lower)) return field;
    changed = true;
    const rendered = mailboxes.map((m) => {
      const address = m.address.toLowerCase() === lower ? to : m.address;
      const name = m.name.trim();
      return name === '' || name.toLowerCase() === lower ? `<${address}>` : `${displayName(name)} <${address}>`;
    });
    return `From: ${rendered.join(', ')}\r\n`;
  });
  return changed ? Buffer.concat([Buffer.from(rewritten, 'latin1'), message.subarray(end)]) : message;
}

/** The addresses of the From: field(s) of a header block (addressparser, folded lines joined). */
export function fromAddresses(head: Buffer): string[] {
  const text = head.subarray(0, headerEnd(head)).toString('latin1');
  const out: string[] = [];
  for (const m of text.matchAll(/^From:((?:[^\r\n]|\r\n[ \t])*)\r\n/gim)) {
    for (const box of addressparser((m[1] ?? '').replace(/\r\n(?=[ \t])/g, ''), { flatten: true })) if (box.address) out.push(box.address);
  }
  return out;
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
