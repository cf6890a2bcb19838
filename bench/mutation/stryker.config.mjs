// Mutation testing of the modules where a silent numeric bug is most likely, and of the request-body
// drain (its bounds and concurrency cap: a bug there passed every test, issue 29): `npm run mutation`
// (not in CI; minutes of CPU). Report: bench/results/mutation.md (+ reports/mutation/ HTML, ignored).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'bench/mutation/vitest.config.ts' },
  plugins: ['@stryker-mutator/vitest-runner'],
  mutate: [
    'src/core/zeroshot.ts', // scoring: normalisation, ensemble, logits, softmax, top-k
    'quantize/quant/math.ts', // quantization arithmetic
    'quantize/verify/gates.ts', // quantization gates
    'src/core/prompt-cache/format.ts', // prompt-cache format
    'src/core/prompt-cache/float16.ts',
    'src/core/tokenizer.ts', // tokenizer wrapper
    'src/core/image/preprocess.ts', // preprocessing
    'src/http/unread-body.ts', // reading what the app left of a body: its bounds and the drain cap (issue 29)
    'src/core/image/byte-budget.ts', // decode memory shared by concurrent decodes (issue 23)
    'src/core/image/resample-stream.ts', // the streaming resize + crop, exact to PIL's (issue 23)
  ],
  coverageAnalysis: 'perTest',
  concurrency: 1, // a shared 2-core machine
  timeoutMS: 5_000, // over the tests' own time: a mutant that loops forever is stopped soon (counted as detected)
  reporters: ['clear-text', 'json', 'html', 'progress'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  tempDirName: '.cache/stryker-tmp',
  ignorePatterns: ['models/vit-b-32-random', '.cache', 'test-results', 'reports', 'bench/results'],
  thresholds: { high: 90, low: 80, break: null },
};
