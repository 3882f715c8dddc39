/**
 * B3_MONITOR=1: Redis MONITOR during a B3 phase, itemised per accepted message by command
 * and key shape — top-level commands by what they touch, and each script's inner commands
 * under the script's name (MONITOR shows them with source "lua"). MONITOR costs Redis CPU:
 * a monitored run's CPU figures are not comparable with an unmonitored one.
 */
import { Redis } from 'ioredis';
import { scripts } from '../src/store/scripts.js';

const SCRIPT_BY_SHA = new Map(Object.values(scripts).map((s) => [s.sha, s.name]));

/** A key with its ids, addresses and numbers replaced: `{b3:q3}:mq:m:<id>` → `q:mq:m:*`. */
function shape(key: string): string {
  return key
    .replace(/^\{[^}:]+:q\d+\}/, 'q')
    .replace(/^\{[^}]+\}/, 'ns')
    .replace(/:(tr:i:[rsm]):.*$/, ':$1:*')
    .replace(/:(mq:[mdu]|tr:t|stats):.*$/, ':$1:*')
    .replace(/:(snap):[^:]+:(\w+):\d+$/, ':$1:*:$2:*');
}

export interface MonitorHandle {
  stop(messages: number): string;
}

export async function startMonitor(url: string): Promise<MonitorHandle> {
  const client = new Redis(url);
  const monitor = await client.monitor();
  const counts = new Map<string, number>();
  let lastScript = '?';
  const bump = (k: string): void => {
    counts.set(k, (counts.get(k) ?? 0) + 1);
  };
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const cmd = (args[0] ?? '').toLowerCase();
    if (source === 'lua') {
      bump(`  lua ${lastScript}: ${cmd} ${shape(args[1] ?? '')}`);
      return;
    }
    if (cmd === 'evalsha' || cmd === 'eval') {
      lastScript = cmd === 'evalsha' ? (SCRIPT_BY_SHA.get(args[1] ?? '') ?? 'unknown') : 'eval';
      bump(`${cmd} ${lastScript}`);
      return;
    }
    if (cmd === 'monitor' || cmd === 'info' || cmd === 'config') return;
    bump(`${cmd} ${shape(args[1] ?? '')}`);
  });
  return {
    stop(messages) {
      monitor.disconnect();
      client.disconnect();
      const rows = [...counts].sort((a, b) => b[1] - a[1]);
      const total = rows.reduce((n, [, c]) => n + c, 0);
      const top = rows.filter(([k]) => !k.startsWith('  ')).reduce((n, [, c]) => n + c, 0);
      return [
        `    MONITOR: ${(total / messages).toFixed(2)} commands per accepted message (${(top / messages).toFixed(2)} sent by clients):`,
        ...rows.map(([k, c]) => `      ${(c / messages).toFixed(3).padStart(7)}  ${k}`),
      ].join('\n');
    },
  };
}
