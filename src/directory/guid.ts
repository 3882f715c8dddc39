/** objectGUID bytes ↔ the usual GUID text form (first three groups byte-swapped). Pure. */
export function guidFromBytes(b: Uint8Array): string {
  if (b.length !== 16) throw new RangeError(`a GUID has 16 bytes, got ${b.length}`);
  const h = (i: number): string => (b[i] as number).toString(16).padStart(2, '0');
  const group = (idx: number[]): string => idx.map(h).join('');
  return [group([3, 2, 1, 0]), group([5, 4]), group([7, 6]), group([8, 9]), group([10, 11, 12, 13, 14, 15])].join('-');
}

export function guidToBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new RangeError(`not a GUID: ${guid}`);
  const raw = Buffer.from(hex, 'hex');
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  return Buffer.from(order.map((i) => raw[i] as number));
}
