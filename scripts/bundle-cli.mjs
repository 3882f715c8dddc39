// Bundles the compiled CLI (dist/src/cli/main.js) into dist/cli/: one entry and a chunk per
// lazily imported command, with the dependencies the commands load on every run (zod,
// yaml, ioredis, commander, node-cron) folded in. Node 20 has no compile cache, and
// resolving and compiling hundreds of small module files is most of a short command's
// time (`switchyard resolve` 260 ms unbundled, SPEC target ≤ 150 ms).
// Packages that read their own files at run time (BullMQ's Lua commands, bull-board's UI,
// pino's transports) or are native stay external and load from node_modules.
import { build } from 'esbuild';
import { cpSync, rmSync } from 'node:fs';

const external = ['bullmq', '@bull-board/*', 'express', 'pino', 'thread-stream', 'playwright-core', 'msgpackr', 'msgpackr-extract'];

rmSync('dist/cli', { recursive: true, force: true });
await build({
  // the threads' scripts sit beside the chunks, where their hosts look for them
  entryPoints: {
    main: 'dist/src/cli/main.js',
    'parse-worker': 'dist/src/directory/csvde/parse-worker.js',
    // `switchyard up`'s job processors (src/main/job-thread-host.ts looks for it beside itself)
    'job-thread': 'dist/src/main/job-thread.js',
  },
  outdir: 'dist/cli',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external,
  minifySyntax: true,
  minifyWhitespace: true,
  minifyIdentifiers: true,
  keepNames: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies folded into ESM chunks still call require() for Node's built-ins
  banner: { js: "import { createRequire as __syCreateRequire } from 'node:module'; const require = __syCreateRequire(import.meta.url);" },
});
// the store finds its Lua scripts beside its own module (src/store/scripts.ts): here, beside the chunks
cpSync('src/store/lua', 'dist/cli/lua', { recursive: true });
