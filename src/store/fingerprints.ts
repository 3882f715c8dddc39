/**
 * A set of 64-bit fingerprints of strings, for a staging that must know whether a field was
 * claimed before without keeping the fields themselves (B1, issue 15): a million-row import
 * claims some 4.4 million fields (object refs, addresses, targets), which as strings in a JS
 * Set would cost ~200 MB; here they cost 8 bytes a slot in one typed array (64 MB at that
 * size). A fingerprint is the field's FNV-1a 32 (which its shard hint already needs) beside
 * a second, independent 32-bit hash seeded per kind of field. Two fields with the same
 * fingerprint read as one: `add` then answers "seen" for a field never seen, so a caller
 * must treat "seen" as "maybe seen" (see src/store/fresh-stage.ts), and "new" as certain.
 * The contacts export keeps the names it has given in one too (src/contacts/rdn.ts).
 */
import { fnv1a32 } from './shards.js';

/**
 * A second 32-bit hash of `s`, independent of FNV-1a: murmur-style mixing per UTF-16 unit.
 * Like fnv1a32 it hashes what Redis stores, the UTF-8 bytes: a lone surrogate (which UTF-8
 * encoding turns into U+FFFD) is hashed as U+FFFD, so strings Redis stores as one field get one
 * fingerprint (well-formed strings and their UTF-8 bytes map one to one).
 */
export function mixHash(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xe000) {
      const lo = c < 0xdc00 && i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (lo >= 0xdc00 && lo < 0xe000) {
        h = Math.imul(h ^ c, 0x5bd1e995);
        h ^= h >>> 15;
        c = lo;
        i++;
      } else {
        c = 0xfffd;
      }
    }
    h = Math.imul(h ^ c, 0x5bd1e995);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
  return (h ^ (h >>> 15)) | 0;
}

/**
 * A field's fingerprint in one pass over it: `out[0]` = fnv1a32(s) (as a signed 32-bit
 * number), `out[1]` = mixHash(s, seed). ASCII text (nearly every field) is hashed both ways at
 * once; other text by the two functions, which agree on how UTF-8 encodes it (B1, session 25:
 * FNV-1a's own loop alone was ~80 ms of a 100,000-row import's main thread in a profile).
 */
export function fingerprint(s: string, seed: number, out: Int32Array): void {
  let h = 0x811c9dc5;
  let m = seed;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      out[0] = fnv1a32(s);
      out[1] = mixHash(s, seed);
      return;
    }
    h = Math.imul(h ^ c, 0x01000193);
    m = Math.imul(m ^ c, 0x5bd1e995);
    m ^= m >>> 15;
  }
  m = Math.imul(m ^ (m >>> 13), 0x5bd1e995);
  out[0] = h;
  out[1] = m ^ (m >>> 15);
}

/** Slots at least (512 KB); the table doubles whenever it is three-quarters full. */
const MIN_SLOTS = 1 << 16;
/** Slots at most (128 MB): sized up front to this at most, and never grown past it. */
const MAX_SLOTS = 1 << 24;
/** Fingerprints the largest table holds (three-quarters of its slots). */
export const MAX_FINGERPRINTS = (3 * MAX_SLOTS) / 4;

/** Slots for `expected` fingerprints: a power of two that holds them under three-quarters full. */
export function slotsFor(expected: number): number {
  let n = MIN_SLOTS;
  while (n < MAX_SLOTS && 3 * n < 4 * expected) n *= 2;
  return n;
}

export class FingerprintSet {
  /** Slot i holds (slots[2i], slots[2i+1]); (0, 0) is an empty slot. */
  private slots: Int32Array;
  private mask: number;
  private count = 0;

  /** `expected`: how many fingerprints to size for (growing past it costs a rehash per doubling). */
  constructor(expected = 0) {
    const slots = slotsFor(expected);
    this.slots = new Int32Array(2 * slots);
    this.mask = slots - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Adds the fingerprint (a, b): true when it was not in the set, false when it was. Throws past MAX_FINGERPRINTS. */
  add(a: number, b: number): boolean {
    a |= 0;
    b |= 0;
    if (a === 0 && b === 0) b = 1; // (0, 0) marks an empty slot
    if (4 * (this.count + 1) > 3 * (this.mask + 1)) {
      if (this.mask + 1 >= MAX_SLOTS) throw new RangeError(`a fingerprint set holds at most ${MAX_FINGERPRINTS} fingerprints`);
      this.grow();
    }
    const slots = this.slots;
    for (let i = b & this.mask; ; i = (i + 1) & this.mask) {
      const x = slots[2 * i] as number;
      const y = slots[2 * i + 1] as number;
      if (x === 0 && y === 0) {
        slots[2 * i] = a;
        slots[2 * i + 1] = b;
        this.count++;
        return true;
      }
      if (x === a && y === b) return false;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(2 * old.length);
    this.mask = old.length - 1;
    const slots = this.slots;
    for (let j = 0; j < old.length; j += 2) {
      const a = old[j] as number;
      const b = old[j + 1] as number;
      if (a === 0 && b === 0) continue;
      let i = b & this.mask;
      while ((slots[2 * i] as number) !== 0 || (slots[2 * i + 1] as number) !== 0) i = (i + 1) & this.mask;
      slots[2 * i] = a;
      slots[2 * i + 1] = b;
    }
  }
}
