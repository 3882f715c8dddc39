// Loaded into a switchyard process under test (NODE_OPTIONS=--import …): on SIGUSR2 the process
// fails the way a bug would — an uncaught exception, or with SY_TEST_FATAL=rejection an
// unhandled promise rejection — so a test can check what the fatal path writes to the log.
process.on('SIGUSR2', () => {
  globalThis.setImmediate(() => {
    if (process.env.SY_TEST_FATAL === 'rejection') void Promise.reject(new Error('test: fatal rejection'));
    else throw new Error('test: fatal exception');
  });
});
