// Checks an exported open_clip folder against what open_clip computed in PyTorch (its reference.json,
// written by export.py): the photos through clip-edge's decode + preprocessing + the fp32 vision
// tower, the prompts through its tokenizer + the fp32 text tower, each cosine ≥ 0.99999.
//   node --import tsx models/recipes/openclip/check.ts <model folder> [--backend node|wasm]
// `npm run models:build -- <name>-random` runs it after every export.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cosine } from '../../../src/core/zeroshot.ts';
import { createNodeClipEdge } from '../../../src/runtime/fs/create.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const MIN_COSINE = 0.99999;

interface Reference {
  model: string;
  images: Record<string, { image_embeds: number[] }>;
  texts?: Record<string, { input_ids: number[]; text_embeds: number[] }>;
}

export interface CheckResult {
  backend: string;
  minImageCosine: number;
  minTextCosine?: number;
  ok: boolean;
}

/** Runs the folder's fp32 towers on the reference inputs; `log` gets one line per input. */
export async function checkAgainstOpenClip(folder: string, backend: string, log: (line: string) => void = console.error): Promise<CheckResult> {
  const ref = JSON.parse(readFileSync(path.join(folder, 'reference.json'), 'utf8')) as Reference;
  const texts = Object.keys(ref.texts ?? {});
  const clip = await createNodeClipEdge({ model: folder, backend, visionVariant: 'fp32', textVariant: 'fp32', text: texts.length > 0 });
  let minImageCosine = 1;
  for (const [photo, r] of Object.entries(ref.images)) {
    const t0 = performance.now();
    const { embedding } = await clip.embedImage(new Uint8Array(readFileSync(path.join(REPO, photo))));
    const c = cosine(embedding, Float32Array.from(r.image_embeds));
    minImageCosine = Math.min(minImageCosine, c);
    log(`  ${photo}: cosine ${c.toFixed(7)} (1 − cos = ${(1 - c).toExponential(1)}) to open_clip (${Math.round(performance.now() - t0)} ms)`);
  }
  let minTextCosine: number | undefined;
  if (texts.length) {
    const { embeddings } = await clip.embedText(texts);
    minTextCosine = 1;
    texts.forEach((t, i) => {
      const c = cosine(embeddings[i]!, Float32Array.from(ref.texts![t]!.text_embeds));
      minTextCosine = Math.min(minTextCosine!, c);
      log(`  "${t}": cosine ${c.toFixed(7)} (1 − cos = ${(1 - c).toExponential(1)}) to open_clip`);
    });
  }
  await clip.close();
  const ok = minImageCosine >= MIN_COSINE && (minTextCosine ?? 1) >= MIN_COSINE;
  return { backend: clip.backend.name, minImageCosine, ...(minTextCosine !== undefined ? { minTextCosine } : {}), ok };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const folder = process.argv[2];
  if (!folder) {
    console.error('usage: node --import tsx models/recipes/openclip/check.ts <model folder> [--backend node|wasm]');
    process.exit(2);
  }
  const i = process.argv.indexOf('--backend');
  const r = await checkAgainstOpenClip(path.resolve(folder), i > 0 ? process.argv[i + 1]! : 'auto');
  console.log(JSON.stringify(r));
  process.exit(r.ok ? 0 : 1);
}
