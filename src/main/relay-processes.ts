/**
 * `relay.processes` > 1: a primary process forks that many relay processes (node:cluster),
 * which share the listeners; each is a whole relay (SMTP sessions, deliveries, its own Redis
 * connections), as several relays on several machines are (SPEC §9). The primary accepts no
 * mail and opens no Redis connection for it: it starts the processes, passes signals on
 * (SIGHUP: reload; SIGTERM/SIGINT: drain and stop), and starts again a process that dies.
 *
 * A process that dies before it listens at start-up fails the whole start (a bad
 * certificate, Redis unreachable): the others are stopped and the reason is the first
 * line of the error. After start-up a dead process is forked again, after 1 s, doubling up to
 * 30 s while its successors keep dying before they listen. When the primary is killed
 * (kill -9), node:cluster makes every relay process exit at once: accepted mail is in
 * Redis, and what they were delivering is taken over when its lease runs out (SPEC §5).
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';

/** The message a relay process sends its primary once it listens. */
export interface ListeningMessage {
  readonly type: 'switchyard:relay-listening';
  readonly listen: readonly string[];
}

export const isListeningMessage = (m: unknown): m is ListeningMessage =>
  typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'switchyard:relay-listening';

/** How many relay processes `relay.processes` asks for on this machine. */
export function relayProcessCount(config: Config): number {
  const p = config.relay.processes;
  return p === 'auto' ? availableParallelism() : p;
}

/** In a relay process: tells the primary it listens (the primary prints the banner). */
export function reportListening(listen: readonly string[]): void {
  const message: ListeningMessage = { type: 'switchyard:relay-listening', listen };
  process.send?.(message);
}

export interface RelayProcesses {
  /** Where the relay processes listen (what the first of them reported). */
  readonly listen: readonly string[];
  /** SIGHUP to every relay process (each re-reads the file and answers for itself). */
  reload(): void;
  /** SIGTERM to every relay process; resolves when all have exited (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

const RESTART_FIRST_MS = 1000;
const RESTART_MAX_MS = 30_000;

export async function startRelayProcesses(count: number, log: Logger): Promise<RelayProcesses> {
  let stopping = false;
  let restartDelay = RESTART_FIRST_MS;
  const slots = new Map<number, Worker>();
  const timers = new Set<NodeJS.Timeout>();

  function fork(slot: number): Worker {
    const worker = cluster.fork({ SWITCHYARD_RELAY_PROCESS: String(slot) });
    slots.set(slot, worker);
    worker.on('message', (m: unknown) => {
      if (isListeningMessage(m)) restartDelay = RESTART_FIRST_MS; // a healthy successor resets the backoff
    });
    return worker;
  }

  function started(slot: number): Promise<readonly string[]> {
    const worker = fork(slot);
    return new Promise((resolve, reject) => {
      const onMessage = (m: unknown): void => {
        if (!isListeningMessage(m)) return;
        worker.off('exit', onExit);
        resolve(m.listen);
      };
      const onExit = (code: number | null, signal: string | null): void => {
        worker.off('message', onMessage);
        reject(new Error(`relay process ${slot} exited (${signal ?? `code ${code ?? '?'}`}) before listening`));
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
    });
  }

  const slotNumbers = Array.from({ length: count }, (_, i) => i + 1);
  let listen: readonly string[];
  try {
    const all = await Promise.all(slotNumbers.map(started));
    listen = all[0] ?? [];
  } catch (err) {
    stopping = true;
    await stopAll(10_000);
    throw err;
  }

  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    const slot = [...slots].find(([, w]) => w === worker)?.[0];
    if (slot === undefined) return;
    const delay = restartDelay;
    restartDelay = Math.min(restartDelay * 2, RESTART_MAX_MS);
    log.error(
      { event: 'SY_RELAY_PROCESS_EXITED', process: slot, pid: worker.process.pid, code, signal, restartInMs: delay },
      'a relay process exited; starting another',
    );
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (!stopping) fork(slot);
    }, delay);
    timers.add(timer);
  });

  async function stopAll(graceMs: number): Promise<void> {
    for (const t of timers) clearTimeout(t);
    timers.clear();
    const alive = [...slots.values()].filter((w) => !w.isDead());
    const exits = alive.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of alive) w.process.kill('SIGTERM');
    const killer = setTimeout(() => {
      for (const w of alive) if (!w.isDead()) w.process.kill('SIGKILL');
    }, graceMs);
    await Promise.all(exits);
    clearTimeout(killer);
  }

  return {
    listen,
    reload() {
      for (const w of slots.values()) if (!w.isDead()) w.process.kill('SIGHUP');
    },
    async stop(graceMs = 40_000) {
      stopping = true;
      await stopAll(graceMs);
    },
  };
}
