import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the soak loop (npm run test:soak) runs vitest itself, outside CI
    exclude: [...configDefaults.exclude, 'test/soak/**'],
    // the run's temporary directory first: Redis's directory and every test's go inside it
    globalSetup: ['test/helpers/run-tmpdir.ts', 'test/helpers/global-redis.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
