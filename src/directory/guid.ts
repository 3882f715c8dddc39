/** objectGUID bytes ↔ the usual GUID text form (first three groups byte-swapped). Pure. */
const HEX = Buffer.from('0123456789abcdef', 'latin1');
/** The bytes in text order (the first three groups byte-swapped); a dash before text positions 4, 6, 8, 10. */
const TEXT_ORDER = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
const text = Buffer.alloc(36);

/** Once per entry of a directory read: written into one scratch buffer, one string made (no string per byte). */
export function guidFromBytes(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError(`a GUID has 16 bytes, got ${b.length}`);
  let at = 0;
  for (let k = 0; k < 16; k++) {
    if (k === 4 || k === 6 || k === 8 || k === 10) text[at++] = 0x2d;
    const v = b[TEXT_ORDER[k] as number] as number;
    text[at++] = HEX[v >> 4] as number;
    text[at++] = HEX[v & 15] as number;
  }
  return text.toString('latin1', 0, 36);
}

export function guidToBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a GUID: ${guid}`);
  const raw = Buffer.from(hex, 'hex');
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Buffer.from(order.map((i) => raw[i] as number));
}
