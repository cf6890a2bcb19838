// End-to-end zero-shot classification (encoded image bytes → answer) of clip-edge and
// transformers.js' zero-shot-image-classification pipeline, on the same model folder, backend,
// dtype, threads, photos, labels and template. Both run in this one process and take turns
// (ABAB…), so that a busy machine slows both alike and the ratio stays meaningful.
import { memoryPromptCacheStore } from '../../src/core/prompt-cache/store.ts';
import type { Precision } from '../../src/core/precision.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { caseMain } from '../lib/case.ts';
import { peerModelFolder } from '../lib/combined-model.ts';
import { loadPeer } from '../lib/peer.ts';
import { imagenetLabels, readPhotos, TEMPLATE } from '../lib/photos.ts';
import { MiB, type Summary, summarise } from '../lib/stats.ts';

export interface ClassifyArgs {
  model: string;
  backend: 'wasm' | 'node';
  threads: number;
  dtype: Precision;
  labels: number;
  iterations: number;
  photos: string[];
  cacheDir: string;
}

export interface ClassifyImpl {
  loadMs: number;
  /** The first classification with these labels, after a warm-up on another label (clip-edge embeds them here, then keeps them). */
  firstMs: number;
  steady: Summary;
  top1: string[];
}

export interface ClassifyResult {
  clipEdge: ClassifyImpl;
  peer: ClassifyImpl;
  /** Share of photos with the same top-1 label. */
  top1Agreement: number;
  rssMiB: number;
  versions: Record<string, string>;
}

caseMain(async (a: ClassifyArgs): Promise<ClassifyResult> => {
  const labels = imagenetLabels(a.labels);
  const photos = readPhotos(a.photos);
  const folder = await peerModelFolder(a.model, a.cacheDir, [a.dtype]);
  const peer = await loadPeer(a.backend, a.threads, a.cacheDir);

  let t = performance.now();
  const clip = await createNodeClipEdge({
    model: a.model,
    backend: a.backend,
    threads: a.threads,
    visionVariant: a.dtype,
    textVariant: a.dtype,
    promptCache: memoryPromptCacheStore(), // nothing carried over from earlier runs on disk
    limits: { maxLabels: Math.max(256, a.labels) },
  });
  await clip.warmup();
  const ceLoad = performance.now() - t;
  t = performance.now();
  const pipe = await peer.t.pipeline('zero-shot-image-classification', folder.split('/').at(-1)!, peer.modelOptions(a.dtype) as never);
  const peerLoad = performance.now() - t;

  const runCe = async (img: Uint8Array) => (await clip.classify(img, { labels, templates: [TEMPLATE], topK: 1 })).results[0]!.label;
  const runPeer = async (img: Uint8Array) => {
    const image = await peer.t.RawImage.fromBlob(new Blob([img as Uint8Array<ArrayBuffer>]));
    const r = (await pipe(image, labels, { hypothesis_template: TEMPLATE })) as { label: string; score: number }[];
    return r[0]!.label;
  };
  const timed = async (fn: (img: Uint8Array) => Promise<string>, img: Uint8Array) => {
    const t0 = performance.now();
    const label = await fn(img);
    return { ms: performance.now() - t0, label };
  };
  // One-time costs (codec wasm start-up, first runs of each session) are paid on another label first,
  // so that the first call with the real labels measures embedding them.
  await clip.classify(photos[0]!, { labels: ['warm-up'], templates: [TEMPLATE], topK: 1 });
  await pipe(await peer.t.RawImage.fromBlob(new Blob([photos[0]! as Uint8Array<ArrayBuffer>])), ['warm-up'], { hypothesis_template: TEMPLATE });
  const ceFirst = await timed(runCe, photos[0]!);
  const peerFirst = await timed(runPeer, photos[0]!);
  // One more untimed warm-up each, then alternate.
  await runCe(photos[1 % photos.length]!);
  await runPeer(photos[1 % photos.length]!);
  const ce: number[] = [];
  const pr: number[] = [];
  const ceTop: string[] = [];
  const peerTop: string[] = [];
  for (let i = 0; i < Math.max(a.iterations, photos.length); i++) {
    const img = photos[i % photos.length]!;
    const x = await timed(runCe, img);
    const y = await timed(runPeer, img);
    if (i < a.iterations) {
      ce.push(x.ms);
      pr.push(y.ms);
    }
    if (i < photos.length) {
      ceTop.push(x.label);
      peerTop.push(y.label);
    }
  }
  return {
    clipEdge: { loadMs: ceLoad, firstMs: ceFirst.ms, steady: summarise(ce), top1: ceTop },
    peer: { loadMs: peerLoad, firstMs: peerFirst.ms, steady: summarise(pr), top1: peerTop },
    top1Agreement: ceTop.filter((l, i) => l === peerTop[i]).length / photos.length,
    rssMiB: process.memoryUsage().rss / MiB,
    versions: { 'transformers.js': peer.versions.transformers, 'transformers.js onnxruntime': peer.versions.onnxruntime },
  };
});
