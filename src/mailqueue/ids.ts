/** Queue ids: sortable by arrival, unique across relays without a round trip. */
import { randomBytes } from 'node:crypto';

export function newMessageId(now = Date.now()): string {
  return `${now.toString(36).toUpperCase()}${randomBytes(5).toString('hex').toUpperCase()}`;
}

export function unitId(messageId: string, index: number): string {
  return `${messageId}.${index}`;
}

export function messageOf(uid: string): string {
  const dot = uid.lastIndexOf('.');
  return dot < 0 ? uid : uid.slice(0, dot);
}
