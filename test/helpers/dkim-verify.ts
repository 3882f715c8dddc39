/**
 * An independent DKIM check for tests (RFC 6376, rsa-sha256, relaxed/relaxed): the body
 * hash against the one the sink computed while reading, and the signature over the
 * relaxed header fields named in h= with the signer's public key. Written from the RFC,
 * not from the signer's code, so a signer bug cannot hide in both.
 */
import { createVerify, type KeyObject } from 'node:crypto';

interface Field {
  readonly name: string;
  readonly raw: string;
}

function fields(head: string): Field[] {
  const out: Field[] = [];
  for (const line of head.split('\r\n')) {
    if (line === '') break;
    const last = out[out.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) out[out.length - 1] = { ...last, raw: `${last.raw}\r\n${line}` };
    else out.push({ name: line.slice(0, line.indexOf(':')).trim().toLowerCase(), raw: line });
  }
  return out;
}

/** RFC 6376 §3.4.2 relaxed header canonicalization of one field (no CRLF at the end). */
function relaxed(raw: string): string {
  const colon = raw.indexOf(':');
  const name = raw.slice(0, colon).trim().toLowerCase();
  const value = raw
    .slice(colon + 1)
    .replace(/\r\n(?=[ \t])/g, '')
    .replace(/[ \t]+/g, ' ')
    .trim();
  return `${name}:${value}`;
}

export interface DkimCheck {
  readonly found: boolean;
  readonly domain?: string;
  readonly bodyHashMatches: boolean;
  readonly signatureVerifies: boolean;
}

export function verifyDkim(headerBlock: Buffer, bodyRelaxedHash: string, publicKey: KeyObject): DkimCheck {
  const all = fields(headerBlock.toString('latin1'));
  const sig = all.find((f) => f.name === 'dkim-signature');
  if (sig === undefined) return { found: false, bodyHashMatches: false, signatureVerifies: false };
  const tags = new Map(
    relaxed(sig.raw)
      .slice('dkim-signature:'.length)
      .split(';')
      .map((t) => t.trim())
      .filter((t) => t !== '')
      .map((t) => [t.slice(0, t.indexOf('=')).trim(), t.slice(t.indexOf('=') + 1).replace(/\s+/g, '')] as const),
  );
  const used = new Map<string, number>();
  const signed: string[] = [];
  for (const name of (tags.get('h') ?? '').toLowerCase().split(':')) {
    const instances = all.filter((f) => f.name === name && f !== sig);
    const n = used.get(name) ?? 0;
    const field = instances[instances.length - 1 - n];
    used.set(name, n + 1);
    if (field) signed.push(`${relaxed(field.raw)}\r\n`);
  }
  const sigWithoutB = relaxed(sig.raw).replace(/(;\s*b=)[^;]*/, '$1');
  const verifier = createVerify('RSA-SHA256');
  verifier.update(signed.join('') + sigWithoutB, 'latin1');
  return {
    found: true,
    ...(tags.get('d') !== undefined ? { domain: tags.get('d') } : {}),
    bodyHashMatches: tags.get('bh') === bodyRelaxedHash,
    signatureVerifies: verifier.verify(publicKey, tags.get('b') ?? '', 'base64'),
  };
}
