// Preloaded into a benchmarked process (node -r): prints its peak RSS (and CPU time) on exit.
process.on('exit', () => {
  const u = process.resourceUsage();
  process.stderr.write(`\nSY_BENCH_MAXRSS_KB=${u.maxRSS}\nSY_BENCH_CPU_MS=${Math.round((u.userCPUTime + u.systemCPUTime) / 1000)}\n`);
});
