/**
 * A loopback proxy in front of a real Redis that cuts connections on purpose: it passes one
 * whole RESP reply of the replies it is cutting and closes the connection, so that Redis ran
 * what it was sent but the client saw only its first answer (ioredis then rejects the rest of
 * a pipeline or a transaction with AbortError). A cut happens once after `armNext()` (on the
 * next reply read from Redis, on any connection), or after every request that contains a
 * given text (`cutAfterSending`), e.g. a key's name.
 */
import { createConnection, createServer, type Socket } from 'node:net';

/** Where the RESP reply that starts at `at` ends, or undefined while it is incomplete. */
export function replyEnd(b: Buffer, at: number): number | undefined {
  const eol = b.indexOf('\r\n', at);
  if (eol === -1) return undefined;
  const n = Number(b.toString('latin1', at + 1, eol));
  if (b[at] === 0x24) return n < 0 ? eol + 2 : eol + 4 + n <= b.length ? eol + 4 + n : undefined; // $bulk
  if (b[at] !== 0x2a) return eol + 2; // +simple, -error, :integer
  let p: number | undefined = eol + 2; // *array
  for (let i = 0; i < n && p !== undefined; i++) p = replyEnd(b, p);
  return p;
}

export interface CuttingProxy {
  readonly url: string;
  /** Connections cut so far. */
  readonly cuts: number;
  /** Cuts after the next reply (one whole), once. */
  armNext(): void;
  /** Cuts every connection that sends a request containing `text`, after the first reply that follows; `times` cuts at most. */
  cutAfterSending(text: string | undefined, times?: number): void;
  close(): Promise<void>;
}

export async function startCuttingProxy(redisUrl: string): Promise<CuttingProxy> {
  const upstream = new URL(redisUrl);
  let armed = false;
  let cuts = 0;
  let trigger: Buffer | undefined;
  let triggerLeft = Infinity; // cuts the trigger may still make
  const sockets = new Set<Socket>();
  const server = createServer((down: Socket) => {
    const up = createConnection({ host: upstream.hostname, port: Number(upstream.port) });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    down.on('error', () => up.destroy());
    up.on('error', () => down.destroy());
    down.on('close', () => up.destroy());
    up.on('close', () => down.destroy());
    let cutting = false; // this connection's replies are being cut
    let triggered = false; // by the trigger, not by armNext
    down.on('data', (chunk: Buffer) => {
      if (trigger !== undefined && chunk.includes(trigger)) cutting = triggered = true;
      up.write(chunk);
    });
    let held = Buffer.alloc(0); // replies read while cutting, until the first is whole
    up.on('data', (chunk: Buffer) => {
      if (armed) cutting = true;
      if (!cutting) {
        down.write(chunk);
        return;
      }
      held = Buffer.concat([held, chunk]);
      const end = replyEnd(held, 0);
      if (end === undefined) return;
      armed = false;
      cuts++;
      if (triggered && --triggerLeft <= 0) trigger = undefined;
      down.end(held.subarray(0, end), () => down.destroy()); // one whole reply, then the connection is gone
      up.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `redis://127.0.0.1:${port}`,
    get cuts() {
      return cuts;
    },
    armNext() {
      armed = true;
    },
    cutAfterSending(text, times = Infinity) {
      trigger = text === undefined || times <= 0 ? undefined : Buffer.from(text);
      triggerLeft = times;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
