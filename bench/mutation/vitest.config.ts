import { defineConfig } from 'vitest/config';

// The fast unit tests of the mutated modules (bench/mutation/stryker.config.mjs): Stryker runs the
// ones covering a mutant once per mutant, so nothing slow belongs here. The model-level references
// (torch-probs, error-bounds, PIL parity, shipped caches) also guard these modules in `npm test`,
// but cost seconds each: a mutant they would kill and these tests miss is reported as a survivor.
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: [
      'test/core/zeroshot.test.ts',
      'test/quantize/math.test.ts',
      'test/quantize/gates.test.ts',
      'test/core/prompt-cache-format.test.ts',
      'test/core/tokenizer.test.ts',
      'test/core/image/preprocess.test.ts',
      'test/core/image/preprocess-edges.test.ts',
      'test/core/tokenizer-options.test.ts',
      'test/core/prompt-cache-format-edges.test.ts',
      'test/http/unread-body.test.ts',
      'test/core/image/byte-budget.test.ts',
      'test/core/image/resample-stream.test.ts',
    ],
    env: { CLIP_EDGE_PROMPT_CACHE: '/tmp/clip-edge-stryker-prompts' },
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
