// The real-length text tower: the bundled fp32 text tower with its sequence axis made dynamic by
// quantize's dynamicSequencePass runs each batch at its longest prompt's length, and gives the same
// embeddings as the original graph at 77 positions (fp32 cosine ≥ 0.999999) on the tokenizer's golden
// cases (openai/CLIP's, vespa's, the truncation cases) and 1,000 ImageNet prompts.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readModelInfo } from '../../src/core/model/info.ts';
import { memorySource } from '../../src/core/model/source.ts';
import { createTextEmbedder, type TextEmbedder } from '../../src/core/text-embedder.ts';
import { hasDynamicSequence, type TextItem, TowerRunner } from '../../src/core/tower.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';
import { readOnnx } from '../../quantize/onnx/io.ts';
import { encodeModel } from '../../quantize/onnx/model.ts';
import { dynamicSequencePass } from '../../quantize/passes/dynamic-sequence.ts';
import { runPasses } from '../../quantize/pipeline.ts';
import { REPO_ROOT } from '../../quantize/verify/data.ts';

const DIR = path.join(REPO_ROOT, 'models/tiny-clip');
const META = ['manifest.json', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'preprocessor_config.json'];
const json = (p: string) => JSON.parse(readFileSync(path.join(REPO_ROOT, p), 'utf8')) as Record<string, { text: string }[]>;

/** The golden texts and 1,000 ImageNet prompts (class i with template i mod 80). */
function texts(): string[] {
  const golden = json('test/fixtures/golden/tokenizer_golden.json');
  const truncation = json('test/fixtures/golden/truncation_golden.json');
  const goldenTexts = [...Object.values(golden), ...Object.values(truncation)].filter(Array.isArray).flat().map((c) => c.text).filter((t) => typeof t === 'string');
  const imagenet = JSON.parse(readFileSync(path.join(REPO_ROOT, 'third_party/zero-shot-prompts/imagenet.json'), 'utf8')) as { classes: (string | string[])[]; templates: string[] };
  const prompts = imagenet.classes.slice(0, 1000).map((c, i) => imagenet.templates[i % imagenet.templates.length]!.replace('{}', Array.isArray(c) ? c[0]! : c));
  return [...goldenTexts, ...prompts];
}

async function embedder(textModel: Uint8Array): Promise<{ text: TextEmbedder; runner: TowerRunner<TextItem> }> {
  const files = Object.fromEntries([...META.map((f) => [f, new Uint8Array(readFileSync(path.join(DIR, f)))] as const), ['onnx/text_model.onnx', textModel] as const]);
  const source = memorySource('tiny-clip', files);
  const info = await readModelInfo(source);
  const runner = new TowerRunner<TextItem>({ backend: wasmBackend(), source, info, tower: 'text', precision: 'fp32', verify: false, maxBatch: 64 });
  return { text: await createTextEmbedder(source, info, runner), runner };
}

let fixed: Awaited<ReturnType<typeof embedder>>;
let dynamic: Awaited<ReturnType<typeof embedder>>;
beforeAll(async () => {
  const src = await readOnnx(path.join(DIR, 'onnx/text_model.onnx'));
  fixed = await embedder(new Uint8Array(readFileSync(path.join(DIR, 'onnx/text_model.onnx'))));
  const model = src.decode();
  const r = await runPasses(model, [dynamicSequencePass()], { where: 'text_model.onnx', tower: 'text', log: () => {} });
  expect(r.reports[0]!.report.inputs).toBe(2);
  dynamic = await embedder(encodeModel(model));
});

describe('the text tower on the prompts’ real length', () => {
  it('the pass makes the sequence axis dynamic (vision towers are left alone)', async () => {
    expect(hasDynamicSequence(await fixed.runner.load())).toBe(false);
    expect(hasDynamicSequence(await dynamic.runner.load())).toBe(true);
    const vision = (await readOnnx(path.join(DIR, 'onnx/vision_model.onnx'))).decode();
    const r = await runPasses(vision, [dynamicSequencePass()], { where: 'vision_model.onnx', tower: 'vision', log: () => {} });
    expect(r.reports[0]!.report.inputs).toBe(0);
  });

  it('equals the 77-position run: fp32 cosine ≥ 0.999999 on the golden cases and 1,000 ImageNet prompts', async () => {
    const all = texts();
    expect(all.length).toBe(1000 + 4 + 5 + 6);
    let worst = 1;
    for (let i = 0; i < all.length; i += 64) {
      const batch = all.slice(i, i + 64);
      const [a, b] = await Promise.all([fixed.text.encode(batch), dynamic.text.encode(batch)]);
      a.out.forEach((x, j) => {
        const y = b.out[j]!;
        let d = 0, nx = 0, ny = 0;
        for (let k = 0; k < x.length; k++) {
          d += x[k]! * y[k]!;
          nx += x[k]! * x[k]!;
          ny += y[k]! * y[k]!;
        }
        worst = Math.min(worst, d / Math.sqrt(nx * ny));
      });
    }
    expect(worst).toBeGreaterThanOrEqual(0.999999);
  });
});
