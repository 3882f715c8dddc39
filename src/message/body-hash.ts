/**
 * The DKIM body hash (relaxed canonicalization, sha256: what nodemailer's signer uses),
 * computed while DATA streams in, so delivery can sign from the header block and this
 * hash without reading the body twice or holding it (nodemailer's own signer buffers the
 * message). nodemailer's RelaxedBody does the canonicalization; only its hashing is used.
 */
import RelaxedBody from 'nodemailer/lib/dkim/relaxed-body';

export const BODY_HASH_ALGO = 'sha256';

export class BodyHasher {
  private readonly relaxed = new RelaxedBody({ hashAlgo: BODY_HASH_ALGO });

  update(chunk: Buffer): void {
    if (chunk.length > 0) this.relaxed.updateHash(chunk);
  }

  /** The base64 hash of everything given to `update` (the body, after the header block). */
  digest(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.relaxed.once('hash', (hash: string) => resolve(hash));
      this.relaxed.once('error', reject);
      this.relaxed.end();
    });
  }
}

/** The body hash of a whole stream of body bytes (messages stored without one). */
export async function bodyHashOf(body: AsyncIterable<Buffer> | Iterable<Buffer>): Promise<string> {
  const h = new BodyHasher();
  for await (const chunk of body) h.update(chunk);
  return h.digest();
}
