// Preloaded into a benchmarked process (NODE_OPTIONS=--import, where --cpu-prof is not
// allowed): writes a V8 CPU profile to $SY_BENCH_CPU_PROFILE on exit.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
session.post('Profiler.enable');
session.post('Profiler.start');
process.on('exit', () => {
  session.post('Profiler.stop', (err, result) => {
    if (!err && process.env.SY_BENCH_CPU_PROFILE) writeFileSync(process.env.SY_BENCH_CPU_PROFILE, JSON.stringify(result.profile));
  });
});
