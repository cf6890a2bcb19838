// npm run bench:jpeg-scaled — how far DCT-scaled JPEG decoding (1/2, 1/4, 1/8: what Workers use
// for JPEGs over their decode budget) moves CLIP's answers from the exact path (PIL's pixels).
// Inputs: 12 MP baseline JPEGs made by bench/jpeg-scaled-decode.py from ../shared/data's CIFAR-10
// sample and CLIP.png (skipped with a message when ../shared is absent). For each image and scale:
// the 224-px crop's mean |Δ| in 8-bit levels, the image embedding's cosine to the exact one and
// top-1 agreement on the cifar10 label set (tiny-clip, fp32 vision, onnxruntime-web WASM).
// Writes bench/results/jpeg-scaled-decode.{md,json}.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClipEdge } from '../src/core/clip.ts';
import { createImageDecoder } from '../src/core/image/decoder.ts';
import { readJpegHeader } from '../src/core/image/jpeg-header.ts';
import { type JpegScale, jpegTurboDecodeBytes } from '../src/core/image/jpeg-turbo.ts';
import { CLIP_PREPROCESS } from '../src/core/image/preprocess.ts';
import { cosine } from '../src/core/zeroshot.ts';
import { wasmBackend } from '../src/runtime/fs/ort.ts';
import { nodeImageCodecs } from '../src/runtime/fs/codecs.ts';
import { fsModelSource } from '../src/runtime/fs/model-source.ts';
import { fsPromptCacheStore } from '../src/runtime/fs/prompt-cache.ts';
import { dirLabelSets } from '../src/runtime/fs/label-sets.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const MODEL = path.join(ROOT, 'models/tiny-clip');
const IMAGES = path.join(ROOT, '.cache/jpeg-scaled');
const SCALES: JpegScale[] = [1, 2, 4, 8];

if (!existsSync(path.join(ROOT, '../shared/data/images/cifar10-test-sample'))) {
  console.log('skipped: ../shared/data/images is absent (a clone without ../shared)');
  process.exit(0);
}
const gen = spawnSync('/usr/bin/python3', [path.join(ROOT, 'bench/jpeg-scaled-decode.py'), IMAGES], { stdio: 'inherit' });
if (gen.status !== 0) throw new Error('bench/jpeg-scaled-decode.py failed (needs /usr/bin/python3 with PIL)');

/** A kit whose decode budget is exactly what 1/`denom` needs: the decoder then takes that scale. */
const kitFor = (budgetBytes: number) =>
  createClipEdge({
    source: fsModelSource(MODEL),
    backends: [wasmBackend()],
    visionVariant: 'fp32',
    text: false,
    imageCodecs: nodeImageCodecs({ jpegTurbo: true }),
    labelSets: dirLabelSets(path.join(ROOT, 'third_party/zero-shot-prompts'), { allowDuplicates: true }),
    promptCache: fsPromptCacheStore(path.join(MODEL, 'prompts')),
    imageDecode: { budgetBytes, jpegScaling: true },
  });

interface Row { image: string; scale: string; meanAbsDiff: number; maxAbsDiff: number; cosine: number; top1Same: boolean }
const rows: Row[] = [];
const files = readdirSync(IMAGES).filter((f) => f.endsWith('.jpg')).sort();
const exactKit = await kitFor(Infinity);
const decoder = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), jpegScaling: true });
for (const f of files) {
  const bytes = new Uint8Array(readFileSync(path.join(IMAGES, f)));
  const header = readJpegHeader(bytes);
  const exact = await exactKit.classify(bytes, { labelSet: 'cifar10', topK: 1 });
  const exactEmb = (await exactKit.embedImage(bytes)).embedding;
  const exactCrop = (await decoder.decodeForClip(bytes, CLIP_PREPROCESS)).crop;
  for (const denom of SCALES.slice(1)) {
    const budget = jpegTurboDecodeBytes(header, bytes.length, denom);
    const kit = await kitFor(budget);
    const r = await kit.classify(bytes, { labelSet: 'cifar10', topK: 1 });
    if (r.image.decode !== `dct-1/${denom}`) throw new Error(`${f}: expected dct-1/${denom}, got ${r.image.decode}`);
    const emb = (await kit.embedImage(bytes)).embedding;
    const crop = (await createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: budget, jpegScaling: true }).decodeForClip(bytes, CLIP_PREPROCESS)).crop;
    let sum = 0;
    let max = 0;
    for (let i = 0; i < crop.data.length; i++) {
      const d = Math.abs(crop.data[i]! - exactCrop.data[i]!);
      sum += d;
      if (d > max) max = d;
    }
    rows.push({ image: f, scale: `1/${denom}`, meanAbsDiff: sum / crop.data.length, maxAbsDiff: max, cosine: cosine(emb, exactEmb), top1Same: r.results[0]!.label === exact.results[0]!.label });
  }
  process.stderr.write('.');
}

const summary = SCALES.slice(1).map((d) => {
  const rs = rows.filter((r) => r.scale === `1/${d}`);
  const cos = rs.map((r) => r.cosine);
  return {
    scale: `1/${d}`,
    images: rs.length,
    meanAbsDiff: rs.reduce((s, r) => s + r.meanAbsDiff, 0) / rs.length,
    maxAbsDiff: Math.max(...rs.map((r) => r.maxAbsDiff)),
    meanCosine: cos.reduce((s, c) => s + c, 0) / cos.length,
    minCosine: Math.min(...cos),
    top1Agreement: rs.filter((r) => r.top1Same).length / rs.length,
    clipPng: rs.find((r) => r.image === 'CLIP.jpg'),
  };
});
mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(path.join(ROOT, 'bench/results/jpeg-scaled-decode.json'), `${JSON.stringify({ measuredAt: new Date().toISOString(), summary, rows }, null, 1)}\n`);
const md = [
  '# DCT-scaled JPEG decoding vs the exact path',
  '',
  `Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:jpeg-scaled\` (bench/jpeg-scaled-decode.ts), Node ${process.versions.node}.`,
  `${files.length} 4000×3000 baseline JPEGs (q90, 4:2:0): the ${files.length - 1} CIFAR-10 samples of ../shared/data/images and CLIP.png,`,
  'upscaled with PIL bicubic (bench/jpeg-scaled-decode.py). Exact = libjpeg-turbo at full size (PIL\'s pixels) then',
  'CLIP\'s resize + crop; scaled = libjpeg-turbo\'s reduced IDCT at 1/2, 1/4, 1/8, then the same resize + crop.',
  'Model: tiny-clip fp32 vision (onnxruntime-web WASM); top-1 on the cifar10 label set (prompt cache).',
  '',
  '| scale | images | crop mean abs diff (levels) | crop max abs diff | embedding cosine mean | min | top-1 agreement | CLIP.png cosine |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...summary.map((s) => `| ${s.scale} | ${s.images} | ${s.meanAbsDiff.toFixed(2)} | ${s.maxAbsDiff} | ${s.meanCosine.toFixed(5)} | ${s.minCosine.toFixed(5)} | ${(100 * s.top1Agreement).toFixed(0)} % | ${s.clipPng ? s.clipPng.cosine.toFixed(5) : '–'} |`),
  '',
];
writeFileSync(path.join(ROOT, 'bench/results/jpeg-scaled-decode.md'), md.join('\n'));
console.log(md.join('\n'));
