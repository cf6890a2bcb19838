// `npm run test:package` (part of `npm test`): the packed tarball installed in fresh projects
// outside the repository, used as a consumer would (test/package/consumer.test.ts).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/package/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
