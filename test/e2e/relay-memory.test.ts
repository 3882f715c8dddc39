/**
 * Bounded memory (SPEC §5, §8 B6): concurrent 30 MB messages into one `switchyard relay`
 * process whose next hop reads slowly. The relay's RSS, sampled from /proc while the run
 * lasts, stays under 300 MB; every message arrives intact (body hash compared at the sink)
 * and its DKIM signature, made from the header block and the body hash stored at DATA,
 * verifies. CI runs 10 messages; `SOAK_MESSAGES=50` (npm run test:soak) runs the full 50.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../../src/main/embedded-redis.js';
import { bigMessage } from '../../testkit/big-message.js';
import { verifyDkim } from '../helpers/dkim-verify.js';
import { relayEnv, type RelayEnv } from '../helpers/relay.js';
import { spawnRelay, type RelayProcess } from '../helpers/relay-process.js';
import { sendMail } from '../helpers/smtp.js';

const MESSAGES = Number(process.env.SOAK_MESSAGES ?? 10);
const MESSAGE_BYTES = 30 * 1024 * 1024;
const RSS_LIMIT = 300 * 1024 * 1024;

let t: RelayEnv | undefined;
let relay: RelayProcess | undefined;
afterEach(async () => {
  await relay?.kill('SIGKILL');
  relay = undefined;
  await t?.cleanup();
  t = undefined;
});

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) * 1024;
}

describe('bounded memory', () => {
  it(`${MESSAGES} concurrent 30 MB messages through a relay with a slow next hop: RSS under 300 MB, all intact, DKIM verifies`, async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const dir = mkdtempSync(join(tmpdir(), 'sy-mem-'));
    const keyFile = join(dir, 'dkim.pem');
    writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));
    const port = await freePort();
    t = await relayEnv({
      start: false,
      relay: { listen: [`127.0.0.1:${port}`], queueBudget: '4GB', maxMessageSize: 40 * 1024 * 1024 },
      sinks: { onprem: { keep: 'hash', bytesPerSecond: 12 * 1024 * 1024 } },
      adjust: (raw) => {
        const onprem = (raw.connectors as { name: string; dkim?: unknown }[]).find((c) => c.name === 'onprem');
        if (onprem) onprem.dkim = { domain: 'contoso.edu', selector: 'test', privateKeyFile: keyFile };
      },
    });
    relay = await spawnRelay(t.env.configFile);
    const pid = relay.proc.pid ?? 0;
    let peak = rssOf(pid);
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssOf(pid));
      } catch {
        // the process is gone: the assertions below report it
      }
    }, 100);
    const started = Date.now();
    try {
      const sent = Array.from({ length: MESSAGES }, (_, i) => bigMessage(i, MESSAGE_BYTES));
      const replies = await Promise.all(
        sent.map((m) =>
          sendMail({ port, from: 'sender@example.org', to: ['ada.lovelace@contoso.edu'], body: m.stream, size: m.size }).then(
            (r) => r.response,
            (err: unknown) => `error: ${err instanceof Error ? err.message : String(err)}`,
          ),
        ),
      );
      expect(replies.filter((r) => !r.startsWith('250'))).toEqual([]);
      const got = await t.sinks.onprem.waitFor(MESSAGES, 240_000);
      const bodies = await Promise.all(sent.map((m) => m.body));
      const byN = new Map(got.map((g) => [Number(/^X-Big: (\d+)/m.exec(g.text)?.[1]), g]));
      expect(byN.size).toBe(MESSAGES);
      for (let i = 0; i < MESSAGES; i++) {
        const g = byN.get(i);
        expect(g?.bodySha256).toBe(bodies[i]);
        const check = verifyDkim(g?.data ?? Buffer.alloc(0), g?.bodyRelaxedHash ?? '', publicKey);
        expect(check).toEqual({ found: true, domain: 'contoso.edu', bodyHashMatches: true, signatureVerifies: true });
      }
    } finally {
      clearInterval(sampler);
    }
    console.log(
      `${MESSAGES} × 30 MB through one relay, next hop reading 12 MB/s: relay peak RSS ${(peak / 1024 / 1024).toFixed(0)} MB, ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    expect(peak).toBeLessThan(RSS_LIMIT);
    expect(t.sinks.onprem.messages).toHaveLength(MESSAGES);
  }, 300_000);
});
