import os from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    exclude: ['test/workers/**', 'test/package/**', 'node_modules/**'],
    testTimeout: 60_000,
    // Inline-label write-backs go to a throwaway folder, not the user's ~/.cache.
    env: { CLIP_EDGE_PROMPT_CACHE: path.join(os.tmpdir(), `clip-edge-test-prompts-${process.pid}`) },
    hookTimeout: 120_000,
    pool: 'forks',
    // 2-core CI: a couple of workers; model-heavy files load ONNX sessions and should not all run at once.
    maxWorkers: 2,
  },
});
