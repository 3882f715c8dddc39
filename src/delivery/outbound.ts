/**
 * Outbound sender rewriting and DKIM (SPEC §5): a message from a trusted client that
 * leaves for a non-accepted domain with an object's targetAddress as its sender
 * (alice@live.contoso.edu) leaves as the object's primary address (alice@contoso.edu),
 * envelope and From:, so replies come back to the shared domain; then it can be
 * DKIM-signed for the shared domain (nodemailer's signer).
 */
import { readFileSync } from 'node:fs';
import DKIM from 'nodemailer/lib/dkim';
import type { ConnectorConfig } from '../config/schema.js';
import { headerEnd } from '../message/headers.js';

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The message with `from` replaced by `to` in its From: header (and nowhere else). */
export function rewriteFromHeader(message: Buffer, from: string, to: string): Buffer {
  const end = headerEnd(message);
  const head = message.subarray(0, end).toString('latin1');
  const pattern = new RegExp(`(^From:(?:[^\\r\\n]|\\r\\n[ \\t])*?)${escape(from)}`, 'gim');
  const rewritten = head.replace(pattern, (_m, prefix: string) => `${prefix}${to}`);
  if (rewritten === head) return message;
  return Buffer.concat([Buffer.from(rewritten, 'latin1'), message.subarray(end)]);
}

export interface Signer {
  sign(message: Buffer): Promise<Buffer>;
}

/** A DKIM signer per connector that has `dkim` configured. */
export function dkimSigners(connectors: readonly ConnectorConfig[]): Map<string, Signer> {
  const out = new Map<string, Signer>();
  for (const c of connectors) {
    if (!c.dkim) continue;
    const dkim = new DKIM({
      domainName: c.dkim.domain,
      keySelector: c.dkim.selector,
      privateKey: readFileSync(c.dkim.privateKeyFile, 'utf8'),
    });
    out.set(c.name, {
      async sign(message) {
        const chunks: Buffer[] = [];
        for await (const chunk of dkim.sign(message)) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      },
    });
  }
  return out;
}
