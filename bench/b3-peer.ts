/**
 * B3's reference: the Postfix peer of ../shared/peers/postfix (its NOTES.md), set up once with
 * both map flavours (lmdb tables and a private slapd), measured with lmdb maps, switched to LDAP
 * maps with its configure.sh on the running instance, measured again, and torn down — also on an
 * error or an interrupt. The project does not depend on it: without it, the peer is skipped.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '../src/main/paths.js';
import { run } from './lib.js';
import { RCPTS, SESSIONS, SIZE, type Measured, type Results } from './b3-load.js';

export type Flavour = 'lmdb' | 'ldap';
export const FLAVOURS: readonly Flavour[] = ['lmdb', 'ldap'];
export type PeerResults = Map<Flavour, Results>;

const PEER = resolve(process.env.SWITCHYARD_POSTFIX_PEER ?? join(projectRoot(), '..', 'shared', 'peers', 'postfix'));
const DIRECTORY = 10_000;

/** Why the peer cannot run here, or undefined when it can. */
async function unavailable(): Promise<string | undefined> {
  if (process.argv.includes('--skip-peer')) return 'skipped (--skip-peer)';
  if (!['setup.sh', 'configure.sh', 'run.sh', 'teardown.sh'].every((f) => existsSync(join(PEER, f)))) {
    return `skipped: no Postfix peer scripts at ${PEER} (set SWITCHYARD_POSTFIX_PEER); no Postfix reference in this run`;
  }
  const probe =
    'command -v postfix && command -v slapd && test -f /usr/lib/postfix/postfix-lmdb.so && test -f /usr/lib/postfix/postfix-ldap.so';
  if ((await run('bash', ['-c', probe])).code !== 0) {
    return 'skipped: postfix, postfix-ldap, postfix-lmdb or slapd not installed (npm run bench:relay installs them as root)';
  }
  return undefined;
}

async function measure(work: string, messages: number, flavour: Flavour, rcpts: number): Promise<Measured> {
  const r = await run('bash', [join(PEER, 'run.sh'), work, String(messages), String(SESSIONS), String(rcpts), '--size', String(SIZE)]);
  const m = /([\d.]+) msg\/s end-to-end \((\d+) accepted msgs in ([\d.]+) s/.exec(r.stdout);
  const file = /result: (\S+)/.exec(r.stdout)?.[1];
  const json = file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as PeerRunJson) : undefined;
  // loadrun.py fails a run on any Postfix log warning too (e.g. cleanup's "file system clock is
  // 1 seconds ahead" on a loaded machine): routing was checked, so keep the rate and say so
  const onlyWarnings =
    !!json?.problems?.length &&
    json.problems.every((p) => Array.isArray(p) && p[0] === 'log') &&
    Object.entries(json.checks ?? {}).every(([k, ok]) => ok || k === 'no_misroutes');
  if ((r.code !== 0 && !onlyWarnings) || !m) {
    // the work dir is purged at teardown: keep the peer's own findings in the error
    const problems = JSON.stringify(json?.problems?.slice(0, 3) ?? []);
    throw new Error(`peer run (${flavour}, r=${rcpts}) failed: ${r.stdout.slice(-600)} ${r.stderr.slice(-400)} problems: ${problems}`);
  }
  const pct = json?.cpu_pct_of_machine;
  const warned = onlyWarnings
    ? `; peer checks flagged ${json?.problems?.length} Postfix log warnings: ${JSON.stringify(json?.problems?.[0])}`
    : '';
  const note = pct ? `machine busy ${pct.machine_busy} %, foreign ${pct.foreign_total} %${warned}` : undefined;
  return {
    msgsPerS: Number(m[1]),
    accepted: Number(m[2]),
    seconds: Number(m[3]),
    ...(json ? { cpuMsPerMsg: json.cpu_ms_per_msg_postfix_plus_slapd } : {}),
    ...(note ? { note } : {}),
  };
}

interface PeerRunJson {
  readonly cpu_ms_per_msg_postfix_plus_slapd: number;
  readonly cpu_pct_of_machine: { readonly machine_busy: number; readonly foreign_total: number };
  readonly problems?: readonly unknown[];
  readonly checks?: Record<string, boolean>;
}

export async function runPeer(messages: number): Promise<PeerResults | string> {
  const why = await unavailable();
  if (why) return why;
  const work = `/var/tmp/switchyard-b3-peer-${process.pid}`;
  // postfix and slapd run as daemons, outside this process group: stop them on an interrupt too
  const teardown = (): void => void spawnSync('bash', [join(PEER, 'teardown.sh'), work, '--purge'], { stdio: 'ignore' });
  const onSignal = (sig: NodeJS.Signals): void => {
    teardown();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const results: PeerResults = new Map();
  try {
    const setup = await run('bash', [join(PEER, 'setup.sh'), work, String(DIRECTORY), 'lmdb', 'authoritative']);
    if (setup.code !== 0) return `skipped: peer setup failed: ${setup.stderr.slice(-400)}`;
    for (const flavour of FLAVOURS) {
      if (flavour !== 'lmdb') {
        const c = await run('bash', [join(PEER, 'configure.sh'), work, flavour, 'authoritative']);
        if (c.code !== 0) throw new Error(`peer configure.sh ${flavour} failed: ${c.stderr.slice(-400)}`);
      }
      const byRcpts: Results = new Map();
      results.set(flavour, byRcpts);
      for (const rcpts of RCPTS) {
        const m = await measure(work, messages, flavour, rcpts);
        byRcpts.set(rcpts, m);
        console.log(
          `  postfix (${flavour} maps) r=${rcpts}: ${m.msgsPerS} msg/s end to end (${m.accepted} accepted in ${m.seconds} s); Postfix+slapd CPU ${m.cpuMsPerMsg ?? '?'} ms/msg; ${m.note ?? ''}`,
        );
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const t = await run('bash', [join(PEER, 'teardown.sh'), work, '--purge']);
    if (t.code !== 0) console.log(`  peer teardown failed (exit ${t.code}): ${t.stderr.slice(-300)}`);
  }
  return results;
}
