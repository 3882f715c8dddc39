// Preloaded into a benchmarked process (node -r): prints its peak RSS on exit.
process.on('exit', () => process.stderr.write(`\nSY_BENCH_MAXRSS_KB=${process.resourceUsage().maxRSS}\n`));
