// `npm run test:package` (part of `npm test`): the workflows a user runs end to end — the packed
// tarball installed in fresh projects outside the repository (consumer.test.ts), and
// `npm run dev:workers` on a fresh clone (dev-workers.test.ts). Minutes, not seconds: kept apart.
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
