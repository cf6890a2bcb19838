// npm run bench:text-real-length [-- --models tiny-clip,vit-b-32-random --prompts 32]
//
// The text tower at the prompts' real length vs all 77 positions: the same fp32 text tower, as
// exported (fixed 77) and with its sequence axis made dynamic by `clip-edge quantize --dynamic-text`'s
// pass (dynamicSequencePass, applied here in memory), on onnxruntime-web WASM and onnxruntime-node
// (1 thread each), typical prompts (ImageNet classes in openai/CLIP's templates: ≤ 20 tokens), one
// batch of `--prompts` after one warm-up batch. Also the cosine between the two outputs (exact: the
// tower is causal and pools at the end-of-text token). One run, on a shared machine: the ratio is
// what counts (gate ≤ 0.35). Writes bench/results/text-real-length.{md,json}.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Backend } from '../src/core/backend.ts';
import { readModelInfo } from '../src/core/model/info.ts';
import { memorySource } from '../src/core/model/source.ts';
import { createTextEmbedder } from '../src/core/text-embedder.ts';
import { type TextItem, TowerRunner } from '../src/core/tower.ts';
import { nativeBackend, wasmBackend } from '../src/runtime/fs/ort.ts';
import { readOnnx } from '../quantize/onnx/io.ts';
import { encodeModel } from '../quantize/onnx/model.ts';
import { dynamicSequencePass } from '../quantize/passes/dynamic-sequence.ts';
import { runPasses } from '../quantize/pipeline.ts';
import { ROOT } from './lib/case.ts';

const { values: args } = parseArgs({ options: { models: { type: 'string' }, prompts: { type: 'string' } } });
const MODELS = (args.models ?? 'tiny-clip,vit-b-32-random').split(',');
const N = Number(args.prompts ?? 32);
const META = ['manifest.json', 'config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'preprocessor_config.json'];

function prompts(): string[] {
  const imagenet = JSON.parse(readFileSync(path.join(ROOT, 'third_party/zero-shot-prompts/imagenet.json'), 'utf8')) as { classes: (string | string[])[]; templates: string[] };
  return Array.from({ length: 2 * N }, (_, i) => imagenet.templates[(i * 7) % 80]!.replace('{}', String([imagenet.classes[(i * 37) % 1000]].flat()[0])));
}

async function embedderOf(dir: string, textModel: Uint8Array, backend: Backend) {
  const files = Object.fromEntries([...META.filter((f) => existsSync(path.join(dir, f))).map((f) => [f, new Uint8Array(readFileSync(path.join(dir, f)))] as const), ['onnx/text_model.onnx', textModel] as const]);
  const source = memorySource(path.basename(dir), files);
  const info = await readModelInfo(source);
  const runner = new TowerRunner<TextItem>({ backend, source, info, tower: 'text', precision: 'fp32', verify: false, maxBatch: N });
  return createTextEmbedder(source, info, runner);
}

async function main(): Promise<void> {
  const texts = prompts();
  const rows: Record<string, unknown>[] = [];
  for (const id of MODELS) {
    const dir = path.join(ROOT, 'models', id);
    const file = path.join(dir, 'onnx/text_model.onnx');
    const fixedBytes = new Uint8Array(readFileSync(file));
    const model = (await readOnnx(file)).decode();
    await runPasses(model, [dynamicSequencePass()], { where: file, tower: 'text', log: () => {} });
    const dynamicBytes = encodeModel(model);
    for (const [name, make] of [['onnxruntime-web WASM', () => wasmBackend()], ['onnxruntime-node', () => nativeBackend()]] as const) {
      const time = async (bytes: Uint8Array) => {
        const e = await embedderOf(dir, bytes, make());
        await e.encode(texts.slice(0, N)); // warm-up
        const t0 = performance.now();
        const r = await e.encode(texts.slice(N));
        return { ms: (performance.now() - t0) / N, out: r.out };
      };
      const full = await time(fixedBytes);
      const real = await time(dynamicBytes);
      let worst = 1;
      full.out.forEach((x, j) => {
        const y = real.out[j]!;
        let d = 0, nx = 0, ny = 0;
        for (let k = 0; k < x.length; k++) {
          d += x[k]! * y[k]!;
          nx += x[k]! * x[k]!;
          ny += y[k]! * y[k]!;
        }
        worst = Math.min(worst, d / Math.sqrt(nx * ny));
      });
      rows.push({ model: id, backend: name, msPerPrompt77: full.ms, msPerPromptReal: real.ms, ratio: real.ms / full.ms, minCosine: worst });
      console.error(JSON.stringify(rows.at(-1)));
    }
  }
  const lengths = texts.map((t) => t.split(/\s+/).length);
  const md = [
    '# The text tower at the prompts\' real length vs 77 positions',
    '',
    `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:text-real-length\` (bench/text-real-length.ts): fp32 text tower as exported (fixed 77) vs`,
    `its sequence axis made dynamic (\`clip-edge quantize --dynamic-text\`'s pass), batches of ${N} ImageNet prompts (${Math.min(...lengths)}-${Math.max(...lengths)} words, ≤ 20 tokens) after one warm-up batch, 1 thread,`,
    'one run on a shared 2-core machine. Gate: real length ≤ 0.35× the 77-position time.',
    '',
    '| model | backend | ms per prompt, 77 positions | ms per prompt, real length | ratio | min cosine |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...rows.map((r) => `| ${String(r.model)} | ${String(r.backend)} | ${(r.msPerPrompt77 as number).toFixed(2)} | ${(r.msPerPromptReal as number).toFixed(2)} | ${(r.ratio as number).toFixed(3)} | ${(r.minCosine as number).toFixed(7)} |`),
    '',
  ].join('\n');
  writeFileSync(path.join(ROOT, 'bench/results/text-real-length.json'), `${JSON.stringify({ measuredAt: new Date().toISOString(), prompts: N, rows }, null, 1)}\n`);
  writeFileSync(path.join(ROOT, 'bench/results/text-real-length.md'), md);
  console.log(md);
}

await main();
