/**
 * The stored form of a recipient object: compact JSON with a fixed key order, so that an
 * unchanged object serialises to the same string (the diff compares strings in Redis).
 */
import type { ObjectKind, RecipientObject } from '../routing/object.js';

interface Stored {
  s: string;
  i: string;
  d: string;
  k: ObjectKind;
  a: readonly string[];
  r: string;
  /** The addresses lower-cased, only when Lua's ASCII-only string.lower would get them wrong. */
  l?: string[];
  p?: string;
  t?: string;
  c?: string;
  n?: string;
  gn?: string;
  sn?: string;
  cn?: string;
  /** mailNickname */
  mn?: string;
  /** legacyExchangeDN */
  x?: string;
  /** hidden from address lists */
  h?: true;
  /** mirror of [source, id] (a GAL-sync contact) */
  m?: [string, string];
}

const NON_ASCII = /[\u0080-\uffff]/;

/** What Lua's string.lower does: A–Z only. */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** `lowered`: the addresses lower-cased, when the caller has them already. */
export function encodeObject(object: RecipientObject, rank: string, lowered = object.addresses.map((a) => a.toLowerCase())): string {
  const stored: Stored = { s: object.source, i: object.id, d: object.dn, k: object.kind, a: object.addresses, r: rank };
  if (object.addresses.some((a, i) => NON_ASCII.test(a) && lowered[i] !== asciiLower(a))) stored.l = lowered;
  if (object.primary !== undefined) stored.p = object.primary;
  if (object.target !== undefined) stored.t = object.target;
  if (object.created !== undefined) stored.c = object.created;
  if (object.displayName !== undefined) stored.n = object.displayName;
  // Added later: each only when set, so objects without them serialise as before.
  if (object.givenName !== undefined) stored.gn = object.givenName;
  if (object.sn !== undefined) stored.sn = object.sn;
  if (object.cn !== undefined) stored.cn = object.cn;
  if (object.mailNickname !== undefined) stored.mn = object.mailNickname;
  if (object.legacyExchangeDN !== undefined) stored.x = object.legacyExchangeDN;
  if (object.hiddenFromAddressLists === true) stored.h = true;
  if (object.mirrorOf !== undefined) stored.m = [object.mirrorOf.source, object.mirrorOf.id];
  return JSON.stringify(stored);
}

export function decodeObject(json: string): RecipientObject {
  const s = JSON.parse(json) as Stored;
  return {
    source: s.s,
    id: s.i,
    dn: s.d,
    kind: s.k,
    addresses: s.a,
    primary: s.p,
    target: s.t,
    created: s.c,
    displayName: s.n,
    givenName: s.gn,
    sn: s.sn,
    cn: s.cn,
    mailNickname: s.mn,
    legacyExchangeDN: s.x,
    hiddenFromAddressLists: s.h === true ? true : undefined,
    mirrorOf: s.m === undefined ? undefined : { source: s.m[0], id: s.m[1] },
  };
}
