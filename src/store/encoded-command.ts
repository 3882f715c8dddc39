/**
 * A Redis command whose RESP bytes are built in one piece (B1, issue 15). ioredis writes a
 * command as a string grown by `+=` from four pieces per argument; a staging script has some
 * 300 arguments, and flattening that string inside the socket write cost a tenth of an
 * import's CPU. Here the arguments are joined into one flat string instead, which is written
 * as is when it is ASCII (its length is then its byte count). Anything else — a Buffer, a
 * non-ASCII character — is left to ioredis's own `toWritable` (EncodedCommand) or encoded with
 * UTF-8 byte counts (PackedCommand), so the bytes sent are always the ones ioredis would send
 * (pinned by test/unit/encoded-command.test.ts).
 *
 * `toWritable` is a public method of ioredis's exported Command class, which both Redis and
 * Cluster call to write a command (also on a resend after a reconnection or a redirection).
 */
import { Command } from 'ioredis';
import type { RedisClient } from './redis.js';

/** The command as RESP text, or undefined when an argument is not an ASCII string. */
export function asciiResp(name: string, args: readonly unknown[]): string | undefined {
  const parts = new Array<string>(args.length + 1);
  parts[0] = `*${args.length + 1}\r\n$${name.length}\r\n${name}`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (typeof arg !== 'string') return undefined;
    parts[i + 1] = `$${arg.length}\r\n${arg}`;
  }
  parts.push('');
  const text = parts.join('\r\n');
  // each character below U+0080 is one byte: equal counts mean every length above is a byte count
  return Buffer.byteLength(text) === text.length ? text : undefined;
}

export class EncodedCommand extends Command {
  override toWritable(socket: object): string | Buffer {
    return asciiResp(this.name, this.args) ?? super.toWritable(socket);
  }
}

/**
 * `head` (RESP text) then `args` from `from` on as RESP bulk strings, in one Buffer: the bytes
 * ioredis writes for them. The parts are joined into one text, which is encoded as is when
 * it is ASCII (its length is then its byte count). Joining in C++ beats writing the bytes
 * from JavaScript a character at a time: 55 against 170 ms for 46 MB of staging arguments
 * (session 25).
 */
export function respBulks(args: readonly string[], from = 0, head = ''): Buffer {
  const parts = new Array<string>(args.length - from + 1);
  for (let i = from; i < args.length; i++) {
    const arg = args[i] as string;
    parts[i - from] = `$${arg.length}\r\n${arg}`;
  }
  parts[args.length - from] = '';
  const text = head + parts.join('\r\n');
  // each character below U+0080 is one byte: equal counts mean every length above is a byte count
  return Buffer.byteLength(text) === text.length ? Buffer.from(text, 'latin1') : utf8Bulks(args, from, head);
}

/** respBulks for text that is not all ASCII: lengths in UTF-8 bytes. */
function utf8Bulks(args: readonly string[], from: number, head: string): Buffer {
  return Buffer.from(
    head +
      args
        .slice(from)
        .map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`)
        .join(''),
  );
}

/** The RESP array header, command name and key of a command of one key and `count` more arguments. */
function commandHead(name: string, key: string, count: number): string {
  return `*${2 + count}\r\n$${name.length}\r\n${name}\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n`;
}

/**
 * `name key args…` (args from `from` on) as RESP, whole, in one Buffer: what ioredis writes for
 * that command from a client without a key prefix. For a PackedCommand.
 */
export function respCommand(name: string, key: string, args: readonly string[], from = 0): Buffer {
  return respBulks(args, from, commandHead(name, key, args.length - from));
}

/**
 * A command of one key and arguments already encoded (`respCommand`), for the many-field writes
 * of a first staging (src/store/fresh-stage.ts). The arguments leave the JS heap as soon as
 * the batch is taken: a command in flight holds one Buffer instead of a thousand strings,
 * which the young-generation collector otherwise copied and promoted (session 23). The key is
 * its only argument as ioredis sees it (its prefix, its Cluster slot), and the bytes written
 * are those ioredis writes for the whole argument list (test/unit/encoded-command.test.ts):
 * the encoded command as it is, or, from a client with a key prefix, its arguments after a
 * head that carries the prefixed key.
 */
export class PackedCommand extends Command {
  constructor(
    name: string,
    private readonly packedKey: string,
    private readonly packedResp: Buffer,
    private readonly packedCount: number,
    options: ConstructorParameters<typeof Command>[2],
  ) {
    super(name, [packedKey], options);
  }

  override toWritable(): Buffer {
    const key = String(this.args[0]);
    if (key === this.packedKey) return this.packedResp;
    const bare = Buffer.byteLength(commandHead(this.name, this.packedKey, this.packedCount));
    return Buffer.concat([Buffer.from(commandHead(this.name, key, this.packedCount)), this.packedResp.subarray(bare)]);
  }
}

function itself<T>(this: T): T {
  return this;
}

/** A command's options as `redis` would give them: string replies, its key prefix, its error stacks. */
function commandOptions(redis: RedisClient): ConstructorParameters<typeof Command>[2] {
  const { keyPrefix, showFriendlyErrorStack } = redis.options;
  return { replyEncoding: 'utf8', keyPrefix, errorStack: showFriendlyErrorStack ? new Error() : undefined };
}

/** `name` on `key` with `count` more arguments, encoded whole by respCommand, as a command of `redis`. */
export function packedCommand(redis: RedisClient, name: string, key: string, resp: Buffer, count: number): PackedCommand {
  return new PackedCommand(name, key, resp, count, commandOptions(redis));
}

/**
 * Sends `name` with `args` as `redis[name](...args)` would (string replies, the
 * client's key prefix), written by EncodedCommand; numbers go as their decimal strings. `args`
 * is the command's from then on: Command's constructor flattens its argument list with
 * `Array#flat`, which took ~20 µs for a staging script's 300 arguments (as long as building
 * them); this list is flat by its type, so its `flat` returns it.
 */
export function sendEncoded(redis: RedisClient, name: string, args: (string | number | Buffer)[]): Promise<unknown> {
  Object.defineProperty(args, 'flat', { value: itself });
  return redis.sendCommand(new EncodedCommand(name, args, commandOptions(redis))) as Promise<unknown>;
}
