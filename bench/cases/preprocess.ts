// Preprocessing (decode + resize + center crop + normalise, bytes → [3, 224, 224] float32) of
// clip-edge (mozjpeg/libwebp in WASM or fast-png, PIL-exact bicubic in TS) vs transformers.js'
// image processor (sharp/libvips decode, its resize) on the same photos, and how far apart their
// pixels are.
import { createImageDecoder } from '../../src/core/image/decoder.ts';
import { clipPreprocess } from '../../src/core/image/preprocess.ts';
import { readModelInfo } from '../../src/core/model/info.ts';
import { nodeImageCodecs } from '../../src/runtime/fs/codecs.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { caseMain } from '../lib/case.ts';
import { peerModelFolder } from '../lib/combined-model.ts';
import { loadPeer } from '../lib/peer.ts';
import { readPhotos } from '../lib/photos.ts';
import { summarise, type Summary } from '../lib/stats.ts';

export interface PreprocessArgs {
  model: string;
  photos: string[];
  iterations: number;
  cacheDir: string;
}

export interface PreprocessResult {
  clipEdge: Summary;
  peer: Summary;
  /** |clip-edge − transformers.js| over all photos' pixel_values, in 8-bit levels (× std × 255). */
  diffLevels: { mean: number; max: number; shareOver1: number };
}

caseMain(async (a: PreprocessArgs): Promise<PreprocessResult> => {
  const info = await readModelInfo(fsModelSource(a.model));
  const folder = await peerModelFolder(a.model, a.cacheDir, []);
  const peer = await loadPeer('node', 1, a.cacheDir);
  const processor = await peer.t.AutoImageProcessor.from_pretrained(folder.split('/').at(-1)!);
  const decoder = createImageDecoder({ wasm: nodeImageCodecs(), maxPixels: 100_000_000 });
  const photos = readPhotos(a.photos);
  const ours = async (b: Uint8Array) => clipPreprocess(await decoder.decode(b), info.preprocess);
  const theirs = async (b: Uint8Array) => {
    const img = await peer.t.RawImage.fromBlob(new Blob([b as Uint8Array<ArrayBuffer>]));
    return (await processor(img)).pixel_values.data as Float32Array;
  };
  for (const b of photos.slice(0, 2)) {
    await ours(b);
    await theirs(b);
  }
  const ce: number[] = [];
  const pr: number[] = [];
  for (let i = 0; i < a.iterations; i++) {
    const b = photos[i % photos.length]!;
    let t = performance.now();
    await ours(b);
    ce.push(performance.now() - t);
    t = performance.now();
    await theirs(b);
    pr.push(performance.now() - t);
  }
  let sum = 0;
  let max = 0;
  let over = 0;
  let n = 0;
  const plane = info.preprocess.cropHeight * info.preprocess.cropWidth;
  for (const b of photos) {
    const x = await ours(b);
    const y = await theirs(b);
    if (x.length !== y.length) throw new Error(`pixel_values differ in size: ${x.length} vs ${y.length}`);
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i]! - y[i]!) * info.preprocess.std[Math.floor(i / plane)]! * 255;
      sum += d;
      max = Math.max(max, d);
      if (d > 1.0001) over++;
      n++;
    }
  }
  return { clipEdge: summarise(ce), peer: summarise(pr), diffLevels: { mean: sum / n, max, shareOver1: over / n } };
});
