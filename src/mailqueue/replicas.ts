/**
 * Redis WAIT after an enqueue, on the connection that wrote the message: WAIT counts the
 * replicas that acknowledged this connection's writes, so on a Cluster it must go to the
 * master of the shard's slot (ioredis would send a keyless command to a random node).
 */
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from '../store/redis.js';

const CRC16_TABLE = ((): Uint16Array => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 8;
    for (let j = 0; j < 8; j++) c = c & 0x8000 ? ((c << 1) ^ 0x1021) & 0xffff : (c << 1) & 0xffff;
    t[i] = c;
  }
  return t;
})();

/** The Redis Cluster slot of a key (CRC16/XMODEM of its hash tag, mod 16384). */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  const close = open >= 0 ? key.indexOf('}', open + 1) : -1;
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed, 'utf8')) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] ?? 0);
  return crc % 16384;
}

/** The connection to the master that holds `key` (the client itself unless a Cluster). */
export function masterOf(redis: RedisClient, key: string): Redis {
  if (!(redis instanceof Cluster)) return redis;
  const owner = redis.slots[keySlot(key)]?.[0];
  const node = owner === undefined ? undefined : redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner);
  if (node === undefined) throw new Error(`no master known for the slot of ${key}`);
  return node;
}

/** Replicas that acknowledged this client's writes to `key`'s node within `timeoutMs`. */
export async function waitReplicas(redis: RedisClient, key: string, replicas: number, timeoutMs: number): Promise<number> {
  return masterOf(redis, key).wait(replicas, timeoutMs);
}
