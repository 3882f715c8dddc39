/**
 * The soak run (outside CI): every fault test file N times in a loop (default 20), then the
 * memory test at full size (SOAK_MESSAGES=50 concurrent 30 MB messages), and a table per
 * test: runs, passed, failed, and the duplicates and losses the fault tests reported
 * (test/helpers/fault-audit.ts writes one JSON line per fault test into $FAULT_REPORT).
 * Every run's result also goes to a JSON file under /tmp.
 *
 *   npm run test:soak [-- --runs N] [--only TEXT] [--memory-messages N | --no-memory]
 *
 * Not a vitest file (vitest.config.ts includes only *.test.ts and excludes test/soak/).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

interface Target {
  readonly file: string;
  /** vitest -t: only the fault tests of a file that has others. */
  readonly filter?: string;
  readonly env?: Record<string, string>;
}

const FAULT_TESTS: readonly Target[] = [
  { file: 'test/e2e/relay-faults.test.ts' },
  { file: 'test/e2e/sentinel-failover.test.ts' },
  { file: 'test/e2e/relay-handover.test.ts' },
  { file: 'test/integration/cluster.test.ts', filter: 'master killed and failed over' },
];
const MEMORY_TEST = 'test/e2e/relay-memory.test.ts';

interface FaultLine {
  readonly test: string;
  readonly duplicates: number;
  readonly lost: number;
  /** Messages left pending (answered 4xx or not at all): the reaper commits them after PENDING_REAP_MS. */
  readonly pendingLeft?: number;
  readonly [k: string]: unknown;
}

interface TestRun {
  readonly file: string;
  readonly run: number;
  readonly test: string;
  readonly status: string;
  readonly durationMs: number;
  readonly failure?: string;
  readonly fault?: FaultLine;
  readonly log: string;
}

interface VitestJson {
  testResults?: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { title: string; fullName: string; status: string; duration?: number; failureMessages?: string[] }[];
  }[];
}

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    only: { type: 'string' },
    'memory-messages': { type: 'string', default: '50' },
    'no-memory': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a positive integer, not ${values.runs}`);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const workDir = join('/tmp', `switchyard-soak-${stamp}`);
mkdirSync(workDir, { recursive: true });
const resultsFile = `${workDir}.json`;

/** One vitest run of a file; every test in it becomes a TestRun. */
async function runOnce(target: Target, run: number): Promise<TestRun[]> {
  const name = `${basename(target.file, '.test.ts')}-${run}`;
  const json = join(workDir, `${name}.json`);
  const faults = join(workDir, `${name}.faults.jsonl`);
  const log = join(workDir, `${name}.log`);
  const args = ['run', target.file, ...(target.filter ? ['-t', target.filter] : []), '--reporter=default', '--reporter=json'];
  args.push(`--outputFile.json=${json}`);
  const started = Date.now();
  const code = await new Promise<number>((resolve) => {
    const child = spawn(join('node_modules', '.bin', 'vitest'), args, {
      env: { ...process.env, FAULT_REPORT: faults, ...target.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => out.push(d));
    child.on('close', (c) => {
      writeFileSync(log, Buffer.concat(out));
      resolve(c ?? 1);
    });
  });
  const faultLines = existsSync(faults)
    ? readFileSync(faults, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as FaultLine)
    : [];
  const report = existsSync(json) ? (JSON.parse(readFileSync(json, 'utf8')) as VitestJson) : {};
  const tests = (report.testResults ?? []).flatMap((f) =>
    f.assertionResults
      .filter((t) => t.status !== 'skipped' && t.status !== 'pending' && t.status !== 'todo')
      .map((t) => {
        const fault = faultLines.find((l) => l.test.endsWith(t.title));
        const failure = t.failureMessages?.[0]?.split('\n')[0];
        return {
          file: target.file,
          run,
          test: t.title,
          status: t.status,
          durationMs: t.duration ?? 0,
          ...(failure ? { failure } : {}),
          ...(fault ? { fault } : {}),
          log,
        };
      }),
  );
  // a file that failed before its tests ran (set-up, import) is one failed run of the file
  if (tests.length === 0 || (code !== 0 && tests.every((t) => t.status === 'passed')))
    tests.push({
      file: target.file,
      run,
      test: '(file)',
      status: 'failed',
      durationMs: Date.now() - started,
      failure: `exit ${code}`,
      log,
    });
  const passed = tests.filter((t) => t.status === 'passed').length;
  const judged = tests.filter((t) => t.fault !== undefined);
  const dup = judged.reduce((n, t) => n + (t.fault?.duplicates ?? 0), 0);
  const lost = judged.reduce((n, t) => n + (t.fault?.lost ?? 0), 0);
  console.log(
    `${target.file} run ${run}: ${passed} passed, ${tests.length - passed} failed in ${((Date.now() - started) / 1000).toFixed(1)} s` +
      (judged.length > 0 ? ` (duplicates ${dup}, lost ${lost})` : '') +
      (passed < tests.length ? ` — see ${log}` : ''),
  );
  return tests;
}

function table(results: readonly TestRun[]): string {
  const rows = new Map<string, { runs: number; passed: number; failed: number; duplicates?: number; lost?: number; pending?: number }>();
  for (const r of results) {
    const key = `${basename(r.file)} › ${r.test}`;
    const row = rows.get(key) ?? { runs: 0, passed: 0, failed: 0 };
    row.runs++;
    if (r.status === 'passed') row.passed++;
    else row.failed++;
    if (r.fault) {
      row.duplicates = (row.duplicates ?? 0) + r.fault.duplicates;
      row.lost = (row.lost ?? 0) + r.fault.lost;
      row.pending = (row.pending ?? 0) + (r.fault.pendingLeft ?? 0);
    }
    rows.set(key, row);
  }
  const head = ['test', 'runs', 'passed', 'failed', 'duplicates seen', 'lost seen', 'left pending'];
  const body = [...rows].map(([test, r]) => [
    test.length > 110 ? `${test.slice(0, 107)}...` : test,
    String(r.runs),
    String(r.passed),
    String(r.failed),
    r.duplicates === undefined ? '-' : String(r.duplicates),
    r.lost === undefined ? '-' : String(r.lost),
    r.pending === undefined ? '-' : String(r.pending),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

const results: TestRun[] = [];
const save = (): void => writeFileSync(resultsFile, `${JSON.stringify({ started: stamp, runs, results }, null, 2)}\n`);
for (const target of FAULT_TESTS.filter((t) => values.only === undefined || t.file.includes(values.only))) {
  for (let run = 1; run <= runs; run++) {
    results.push(...(await runOnce(target, run)));
    save();
  }
}
if (values['no-memory']) console.log(`memory test skipped (--no-memory)`);
else if (!existsSync(MEMORY_TEST)) console.log(`memory test skipped: ${MEMORY_TEST} does not exist yet`);
else if (values.only === undefined || MEMORY_TEST.includes(values.only)) {
  results.push(...(await runOnce({ file: MEMORY_TEST, env: { SOAK_MESSAGES: values['memory-messages'] } }, 1)));
  save();
}
console.log(
  `\n${table(results)}\n\nduplicates seen: extra copies of a message its sender got a 250 for (fault-audit.ts); left pending: ` +
    `messages written but never committed (answered 4xx, or not at all), which the reaper delivers after 2 minutes\n` +
    `per-run results: ${resultsFile} (logs in ${workDir}/)`,
);
process.exitCode = results.every((r) => r.status === 'passed') ? 0 : 1;
