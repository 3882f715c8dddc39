// Loaded into a `switchyard up` under test (NODE_OPTIONS=--import …), where it also runs in
// each worker thread the process starts from a file. On SIGUSR2 the main thread tells the
// job thread (the one whose workerData is a JobThreadData: src/main/job-thread-protocol.ts)
// to fail the way a bug in a job would: it posts one log line through the thread's own port,
// as its logger does, then throws where nothing catches it. A test can then check what the
// process does with a job thread that dies: its last line written, SY_FATAL, exit 1.
import { BroadcastChannel, isMainThread, parentPort, workerData } from 'node:worker_threads';

const CHANNEL = 'switchyard-test-job-thread-fatal';

if (isMainThread) {
  process.on('SIGUSR2', () => {
    const channel = new BroadcastChannel(CHANNEL);
    channel.postMessage('fail');
    channel.close();
  });
} else if (parentPort !== null && typeof workerData?.nice === 'number' && typeof workerData?.options === 'object') {
  const port = parentPort;
  const channel = new BroadcastChannel(CHANNEL);
  channel.unref(); // never what keeps the thread running
  channel.onmessage = () => {
    const line = JSON.stringify({ level: 50, time: Date.now(), event: 'SY_TEST_THREAD_LAST', msg: 'the job thread’s last line' });
    port.postMessage({ type: 'log', line: `${line}\n` });
    globalThis.setImmediate(() => {
      throw new Error('test: job thread fatal');
    });
  };
}
