// Correctness cross-check: clip-edge's image and text embeddings vs transformers.js' on the same
// model (the merged graph, onnxruntime-node, fp32), photos and prompts. The image gap is split into
// its parts by also running transformers.js' model on clip-edge's own pixels.
import { cosine } from '../../src/core/zeroshot.ts';
import { createImageDecoder } from '../../src/core/image/decoder.ts';
import { clipPreprocess } from '../../src/core/image/preprocess.ts';
import { memoryPromptCacheStore } from '../../src/core/prompt-cache/store.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { caseMain } from '../lib/case.ts';
import { peerModelFolder } from '../lib/combined-model.ts';
import { loadPeer } from '../lib/peer.ts';
import { imagenetLabels, readPhotos, TEMPLATE } from '../lib/photos.ts';

export interface CrosscheckArgs {
  model: string;
  photos: string[];
  texts: number;
  cacheDir: string;
}

const stats = (xs: number[]) => ({ mean: xs.reduce((a, b) => a + b, 0) / xs.length, min: Math.min(...xs), n: xs.length });
export type CosineStats = ReturnType<typeof stats>;

export interface CrosscheckResult {
  /** clip-edge embedImage vs transformers.js (its decode + processor + model). */
  image: CosineStats;
  /** The same model run by both on clip-edge's pixels: what is left is the runtime, not preprocessing. */
  imageSamePixels: CosineStats;
  text: CosineStats;
}

caseMain(async (a: CrosscheckArgs): Promise<CrosscheckResult> => {
  const folder = await peerModelFolder(a.model, a.cacheDir, ['fp32']);
  const name = folder.split('/').at(-1)!;
  const peer = await loadPeer('node', 1, a.cacheDir);
  const { t } = peer;
  const clip = await createNodeClipEdge({ model: a.model, backend: 'node', visionVariant: 'fp32', textVariant: 'fp32', promptCache: memoryPromptCacheStore() });
  const model = await t.CLIPModel.from_pretrained(name, peer.modelOptions('fp32') as never);
  const tokenizer = await t.AutoTokenizer.from_pretrained(name);
  const processor = await t.AutoImageProcessor.from_pretrained(name);
  const decoder = createImageDecoder({ wasm: nodeImageCodecs(), maxPixels: 100_000_000 });
  const texts = imagenetLabels(a.texts).map((c) => TEMPLATE.replace('{}', c));
  const textIn = tokenizer(texts, { padding: true, truncation: true });
  const info = clip.info.preprocess;
  const run = async (pixel_values: unknown, text = tokenizer([texts[0]!], { padding: true, truncation: true })) =>
    (await model({ ...text, pixel_values })) as Record<string, { data: Float32Array; dims: number[] }>;
  const row = (m: { data: Float32Array; dims: number[] }, i: number) => m.data.subarray(i * m.dims[1]!, (i + 1) * m.dims[1]!);

  const image: number[] = [];
  const same: number[] = [];
  for (const bytes of readPhotos(a.photos)) {
    const ours = (await clip.embedImage(bytes)).embedding;
    const raw = await t.RawImage.fromBlob(new Blob([bytes as Uint8Array<ArrayBuffer>]));
    const theirs = await run((await processor(raw)).pixel_values);
    image.push(cosine(ours, row(theirs.image_embeds!, 0)));
    const px = clipPreprocess(await decoder.decode(bytes), info);
    const onOurs = await run(new t.Tensor('float32', px, [1, 3, info.cropHeight, info.cropWidth]));
    same.push(cosine(ours, row(onOurs.image_embeds!, 0)));
  }
  const px = new t.Tensor('float32', new Float32Array(3 * info.cropHeight * info.cropWidth), [1, 3, info.cropHeight, info.cropWidth]);
  const theirsText = (await run(px, textIn)).text_embeds!;
  const ours = (await clip.embedText(texts)).embeddings;
  return { image: stats(image), imageSamePixels: stats(same), text: stats(ours.map((e, i) => cosine(e, row(theirsText, i)))) };
});
