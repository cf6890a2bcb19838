import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/clip.ts';
import { applyMutations, fieldsOf, imageCaseArb } from './image-mutations.ts';
import { checkImage, fuzzDecoder, imageSeeds } from './image-target.ts';
import { checkModel, modelBytesOf, modelCaseArb, MODEL_SEEDS, removeFuzzScratch } from './model-target.ts';

// The short fuzz run of `npm test` (fixed seeds, so a failure replays): mutated JPEG/PNG/WebP
// through decode + CLIP preprocessing, and mutated ONNX towers through the quantizer's reader and
// every variant's passes. The property: a correct result, or a ClipEdgeError with the documented
// codes and a message without paths or stacks. `npm run fuzz` runs the long version (≥ 10,000
// images) in worker threads with a per-input watchdog and writes bench/results/reliability-fuzz.*.

const IMAGE_RUNS = Number(process.env.CLIP_EDGE_FUZZ_IMAGES ?? 1500);
const MODEL_RUNS = Number(process.env.CLIP_EDGE_FUZZ_MODELS ?? 250);

afterAll(removeFuzzScratch);

describe('fuzz: image decoding and preprocessing', () => {
  const seeds = imageSeeds();
  const decoder = fuzzDecoder();

  it('the seeds cover JPEG, PNG and WebP, and the mutator finds their header fields', () => {
    const kinds = new Set(seeds.map((s) => path.extname(s.name)));
    expect(kinds).toEqual(new Set(['.jpg', '.png', '.webp']));
    for (const s of seeds) expect(fieldsOf(s.bytes).length, s.name).toBeGreaterThan(2);
  });

  it(`${IMAGE_RUNS} mutated images: a valid image or a clear error, never a crash`, async () => {
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(imageCaseArb(seeds.length), async (c) => {
        const o = await checkImage(decoder, applyMutations(seeds[c.seed]!.bytes, c.mutations));
        const k = o.ok ? 'ok' : o.code;
        outcomes[k] = (outcomes[k] ?? 0) + 1;
      }),
      { seed: 20261127, numRuns: IMAGE_RUNS },
    );
    // Not vacuous: the mutations reach every outcome, decoded images included.
    expect(Object.keys(outcomes).sort()).toEqual(expect.arrayContaining(['CORRUPT_IMAGE', 'IMAGE_TOO_LARGE', 'UNSUPPORTED_IMAGE', 'ok']));
  });
});

describe('fuzz: ONNX reader and quantizer', () => {
  it(`${MODEL_RUNS} mutated towers: quantized (fp16, int8, q4) or a clear MODEL_INVALID / MODEL_NOT_FOUND`, async () => {
    const outcomes: Record<string, number> = {};
    await fc.assert(
      fc.asyncProperty(modelCaseArb, async (c) => {
        const o = await checkModel(modelBytesOf(c), MODEL_SEEDS[c.seed]!.tower);
        const k = o.ok ? 'ok' : o.code;
        outcomes[k] = (outcomes[k] ?? 0) + 1;
      }),
      { seed: 20261127, numRuns: MODEL_RUNS },
    );
    expect(outcomes.ok).toBeGreaterThan(0);
    expect(outcomes.MODEL_INVALID).toBeGreaterThan(0);
  });
});

describe('fuzz findings kept as regression fixtures (test/fixtures/fuzz)', () => {
  const dir = path.join(REPO_ROOT, 'test/fixtures/fuzz');
  const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as {
    cases: Record<string, { target: 'quantizer' | 'image'; tower?: 'vision' | 'text'; expect: string }>;
  };
  it.each(Object.entries(index.cases))('%s', async (file, c) => {
    const bytes = new Uint8Array(readFileSync(path.join(dir, file)));
    const o = c.target === 'quantizer' ? await checkModel(bytes, c.tower!) : await checkImage(fuzzDecoder(), bytes);
    expect(o.ok ? 'ok' : o.code).toBe(c.expect);
  });
});
