/**
 * Summarises a V8 .cpuprofile (node --cpu-prof) of the bundled CLI: self time by function and
 * by module (npm package, our src file, Node internals, GC, "(program)"), mapped back through
 * dist/cli's source maps, and inclusive time of a few costs worth watching (socket writes and
 * who made them, fs writes, logging). Percentages are of the busy time ("(idle)" left out).
 *
 *   node dist/bench/cpu-profile.js FILE.cpuprofile [--top 25]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload, type SourceMapping } from 'node:module';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}
/** Where a frame's code comes from, after the source map. */
interface Site {
  readonly fn: string;
  readonly file: string;
  readonly module: string;
  readonly key: string;
}

const META = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);
const SOCKET_WRITES = 'socket writes (stream_base_commons writeGeneric/writevGeneric)';
const maps = new Map<string, SourceMap | undefined>();
function sourceMapOf(url: string): SourceMap | undefined {
  if (!maps.has(url)) {
    const file = url.startsWith('file://') ? `${fileURLToPath(url)}.map` : '';
    const payload = file && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as SourceMapPayload) : undefined;
    maps.set(url, payload ? new SourceMap(payload) : undefined);
  }
  return maps.get(url);
}

function moduleOf(file: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  if (pkg?.[1]) return pkg[1];
  const ours = /(?:^|\/)(src\/.+)$/.exec(file);
  if (ours?.[1]) return 'src';
  if (file.startsWith('node:')) return 'node internals';
  return /dist\/cli\//.test(file) ? 'dist/cli bundle, unmapped (esbuild helpers)' : file;
}

function siteOf(frame: CallFrame, callerModule: string | undefined): Site {
  const fn = frame.functionName || '(anonymous)';
  if (META.has(fn) && frame.url === '') return { fn, file: '', module: fn, key: fn };
  if (frame.url === '') {
    // a native (C++) function: charged to the module that called it
    const module = callerModule ?? '(native)';
    return { fn: `${fn} [native]`, file: '', module, key: `${fn} [native] < ${module}` };
  }
  const entry = sourceMapOf(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber);
  const mapped: SourceMapping | undefined = entry && 'originalSource' in entry ? entry : undefined;
  const source = mapped ? mapped.originalSource.replace(/^(\.\.\/)+/, '') : frame.url.replace(/^file:\/\//, '');
  const line = mapped ? mapped.originalLine + 1 : frame.lineNumber + 1;
  const src = /(?:^|\/)(src\/.+)$/.exec(source)?.[1];
  const file = `${src ?? source.replace(/^.*node_modules\//, '')}:${line}`;
  return { fn, file, module: moduleOf(source), key: `${fn} ${file}` };
}

export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly functions: readonly [string, number][];
  readonly modules: readonly [string, number][];
  readonly ourFiles: readonly [string, number][];
  readonly inclusive: readonly [string, number][];
  /** Socket writes by the first caller outside Node's internals (who wrote). */
  readonly socketWriters: readonly [string, number][];
}

/** Inclusive buckets: a sample counts once in a bucket when any frame of its stack matches. */
const BUCKETS: readonly [string, (s: Site) => boolean][] = [
  [SOCKET_WRITES, (s) => /^write(v)?Generic$/.test(s.fn) && s.file.includes('stream_base_commons')],
  ['fs writes (fs.write, fs.writeSync: the log destination)', (s) => /^write(Sync)?$/.test(s.fn) && s.file.startsWith('node:fs:')],
  ['logging (pino, sonic-boom)', (s) => s.module === 'pino' || s.module === 'sonic-boom'],
  ['Redis client (ioredis, redis-parser)', (s) => s.module === 'ioredis' || s.module === 'redis-parser'],
  ['SMTP server (smtp-server)', (s) => s.module === 'smtp-server'],
  ['SMTP client (nodemailer)', (s) => s.module === 'nodemailer'],
  ['our code (src/) and what it calls', (s) => s.module === 'src'],
];

export function summariseProfile(file: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const sites = new Map<number, Site>();
  const siteById = (id: number): Site => {
    const known = sites.get(id);
    if (known) return known;
    const node = byId.get(id);
    const up = parent.get(id);
    const caller = up === undefined ? undefined : siteById(up);
    const frame = node?.callFrame ?? { functionName: '(unknown)', url: '', lineNumber: 0, columnNumber: 0 };
    const site = siteOf(frame, caller?.module);
    sites.set(id, site);
    return site;
  };
  const add = (m: Map<string, number>, k: string, v: number): void => void m.set(k, (m.get(k) ?? 0) + v);
  const fns = new Map<string, number>();
  const modules = new Map<string, number>();
  const ourFiles = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const socketWriters = new Map<string, number>();
  let idleMs = 0;
  let busyMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const site = siteById(id);
    if (site.fn === '(idle)') return void (idleMs += ms);
    busyMs += ms;
    add(fns, site.key, ms);
    add(modules, site.module, ms);
    if (site.module === 'src') add(ourFiles, site.file.replace(/:\d+$/, ''), ms);
    const hit = new Set<string>();
    let writer: string | undefined;
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const s = siteById(n);
      for (const [name, test] of BUCKETS) if (test(s)) hit.add(name);
      if (!writer && hit.has(SOCKET_WRITES) && s.module !== 'node internals' && !META.has(s.module)) writer = s.module;
    }
    for (const name of hit) add(inclusive, name, ms);
    if (hit.has(SOCKET_WRITES)) add(socketWriters, writer ?? '(node internals only)', ms);
  });
  const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  return {
    busyMs,
    idleMs,
    functions: sorted(fns),
    modules: sorted(modules),
    ourFiles: sorted(ourFiles),
    inclusive: sorted(inclusive),
    socketWriters: sorted(socketWriters),
  };
}

export function printProfile(file: string, top = 25): void {
  const s = summariseProfile(file);
  const pct = (ms: number): string => `${((100 * ms) / s.busyMs).toFixed(1).padStart(5)} %`;
  const row = ([k, ms]: [string, number]): string => `    ${pct(ms)} ${ms.toFixed(0).padStart(7)} ms  ${k}`;
  console.log(
    `CPU profile ${basename(file)}: busy ${(s.busyMs / 1000).toFixed(2)} s, idle ${(s.idleMs / 1000).toFixed(2)} s (percentages of busy time)`,
  );
  console.log(`  top ${top} functions by self time (function, original file:line):`);
  for (const r of s.functions.slice(0, top)) console.log(row(r));
  console.log('  self time by module (native functions charged to their caller):');
  for (const r of s.modules) if (r[1] / s.busyMs >= 0.001) console.log(row(r));
  console.log('  our src files, self time:');
  for (const r of s.ourFiles.slice(0, 15)) console.log(row(r));
  console.log('  inclusive (any frame on the stack):');
  for (const r of s.inclusive) console.log(row(r));
  console.log('  socket writes by the module that wrote (first caller outside Node internals):');
  for (const r of s.socketWriters) console.log(row(r));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: node dist/bench/cpu-profile.js FILE.cpuprofile [--top N]');
  const i = process.argv.indexOf('--top');
  printProfile(file, i > 0 ? Number(process.argv[i + 1]) : 25);
}
