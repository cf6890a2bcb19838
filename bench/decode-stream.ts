// npm run bench:decode-stream [-- --sizes 1,12,48 --formats png,jpeg --repeat 3]
//
// Decode + CLIP preprocess (resize shortest side to 224, center crop) of photo-like PNGs and
// baseline JPEGs and lossy WebPs at 1, 12 and 48 MP, three ways, each in a fresh child process so that its peak
// memory (maxRSS) is its own:
//   whole:    decode() to full-size RGB, then resizeAndCenterCrop (the path before streaming; JPEG:
//             mozjpeg, Node's decoder before libjpeg-turbo was streamed);
//   streamed: decodeForClip (PNG: src/core/image/png-stream.ts; JPEG: libjpeg-turbo's scanlines,
//             src/core/image/jpeg-turbo.ts; WebP: libwebp's rows, src/core/image/webp-stream.ts;
//             all row by row into the crop);
//   sharp:    sharp (libvips; what transformers.js uses in Node) resize to 224 + crop.
// Reports the median time of `--repeat` runs and the child's peak RSS minus its RSS before the image
// was read. Writes bench/results/decode-stream.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { deflateSync } from 'node:zlib';
import { pngChunk } from './lib/hostile-images.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({ options: { sizes: { type: 'string' }, formats: { type: 'string' }, repeat: { type: 'string' }, child: { type: 'string' }, make: { type: 'string' }, file: { type: 'string' } } });
const MiB = 2 ** 20;

/** A photo-like baseline JPEG (4:2:0, quality 90; libvips' encoder) with the pixels of photoPng. */
async function photoJpeg(mp: number): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  const png = photoPng(mp);
  return sharp(png, { limitInputPixels: false }).jpeg({ quality: 90, chromaSubsampling: '4:2:0', progressive: false }).toBuffer();
}

/** A photo-like lossy WebP (quality 80; libvips' encoder) with the pixels of photoPng. */
async function photoWebp(mp: number): Promise<Buffer> {
  const sharp = (await import('sharp')).default;
  return sharp(photoPng(mp), { limitInputPixels: false }).webp({ quality: 80 }).toBuffer();
}

/** A photo-like 8-bit RGB PNG (smooth gradients plus grain) of about `mp` megapixels, 4:3. */
function photoPng(mp: number): Buffer {
  const width = Math.round(Math.sqrt((mp * 1e6 * 4) / 3));
  const height = Math.round((mp * 1e6) / width);
  const row = 1 + width * 3;
  const raw = Buffer.alloc(row * height);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    raw[y * row] = 1; // Sub filter, as encoders pick for photos
    let prev = [0, 0, 0];
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const grain = (seed >>> 24) & 7;
      const v = [(x * 255) / width + grain, (y * 255) / height + grain, ((x + y) * 127) / (width + height) + grain].map((c) => Math.min(255, Math.round(c)));
      for (let c = 0; c < 3; c++) raw[y * row + 1 + x * 3 + c] = (v[c]! - prev[c]!) & 255;
      prev = v;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw, { level: 6 })), pngChunk('IEND', new Uint8Array(0))]);
}

/** In the child: one way, one file; prints {ms, peakMiB} as JSON. */
async function child(way: string, file: string): Promise<void> {
  const { createImageDecoder } = await import('../src/core/image/decoder.ts');
  const { CLIP_PREPROCESS, resizeAndCenterCrop } = await import('../src/core/image/preprocess.ts');
  const { nodeImageCodecs } = await import('../src/runtime/fs/codecs.ts');
  const sharp = (await import('sharp')).default;
  const options = { maxPixels: 100_000_000, maxPixelsPerByte: 100_000 }; // 48 MP is over the server's default 40 MP
  const decoder = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: way !== 'whole' }), ...options });
  const bytes = new Uint8Array(readFileSync(file));
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  let crop: Uint8Array;
  if (way === 'whole') crop = resizeAndCenterCrop(await decoder.decode(bytes), CLIP_PREPROCESS).data;
  else if (way === 'streamed') crop = (await decoder.decodeForClip(bytes, CLIP_PREPROCESS)).crop.data;
  else crop = await sharp(bytes).resize({ width: 224, height: 224, fit: 'cover', kernel: 'cubic' }).removeAlpha().raw().toBuffer();
  const ms = performance.now() - t0;
  if (crop.length !== 224 * 224 * 3) throw new Error(`bad crop ${crop.length}`);
  process.stdout.write(JSON.stringify({ ms, peakMiB: (process.resourceUsage().maxRSS * 1024 - before) / MiB }));
}

if (args.make) {
  // In its own process: encoding 48 MP images grows a process by hundreds of MB, and Linux carries a
  // parent's RSS at fork into its children's maxRSS, which would then measure the encoder, not the decode.
  const [format, mp] = args.make.split(':') as [string, string];
  writeFileSync(args.file!, format === 'jpeg' ? await photoJpeg(Number(mp)) : format === 'webp' ? await photoWebp(Number(mp)) : photoPng(Number(mp)));
} else if (args.child) {
  await child(args.child, args.file!);
} else {
  const sizes = (args.sizes ?? '1,12,48').split(',').map(Number);
  const formats = (args.formats ?? 'png,jpeg,webp').split(',');
  const repeat = Number(args.repeat ?? '3');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'decode-stream-'));
  const rows: string[] = [];
  for (const format of formats)
  for (const mp of sizes) {
    const file = path.join(dir, `photo-${mp}mp.${format}`);
    execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--make', `${format}:${mp}`, '--file', file], { cwd: ROOT, stdio: 'inherit' });
    const png = readFileSync(file);
    const cells: string[] = [];
    const figures: Record<string, { ms: number; peakMiB: number }> = {};
    for (const way of ['whole', 'streamed', 'sharp']) {
      const runs = Array.from({ length: repeat }, () =>
        JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', way, '--file', file], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 20 })) as { ms: number; peakMiB: number },
      );
      const ms = runs.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(repeat / 2)]!;
      const peakMiB = Math.max(...runs.map((r) => r.peakMiB));
      figures[way] = { ms, peakMiB };
      cells.push(`${ms.toFixed(0)} ms, ${peakMiB.toFixed(1)} MiB`);
      process.stderr.write(`${format} ${mp} MP ${way}: ${ms.toFixed(0)} ms, peak +${peakMiB.toFixed(1)} MiB\n`);
    }
    const s = figures.streamed!;
    const w = figures.whole!;
    rows.push(`| ${format.toUpperCase()} ${mp} MP (${(png.length / MiB).toFixed(1)} MB) | ${cells.join(' | ')} | ${(s.ms / w.ms).toFixed(2)}× | ${(s.peakMiB / Math.max(0.1, w.peakMiB)).toFixed(3)}× |`);
  }
  const md = [
    '# Decode + CLIP preprocess: whole image vs streamed vs sharp',
    '',
    `\`npm run bench:decode-stream\`, ${new Date().toISOString().slice(0, 10)}, ${os.cpus()[0]?.model ?? 'cpu'} × ${os.cpus().length}, Node ${process.version}; median of ${repeat} runs, each in a fresh process; memory: peak RSS minus RSS before the image was read (sharp's libvips threads and caches included).`,
    'Photo-like 8-bit RGB PNGs (gradients + grain, Sub filter, zlib level 6), 4:3, and the same pixels as baseline JPEGs (libvips, 4:2:0, quality 90) and lossy WebPs (libvips, quality 80). "whole": decode() + resizeAndCenterCrop (the path before streaming; JPEG with mozjpeg, WebP with jsquash libwebp); "streamed": decodeForClip (JPEG: libjpeg-turbo scanlines; WebP: libwebp rows); "sharp": libvips resize + crop (not PIL\'s pixels).',
    '',
    '| image | whole | streamed | sharp | streamed / whole time | streamed / whole memory |',
    '| --- | --- | --- | --- | ---: | ---: |',
    ...rows,
    '',
    'In Chromium, in the page\'s Web Worker (whole-image codecs vs streamed): [browser-decode.md](browser-decode.md), `npm run bench:browser-decode`.',
    '',
  ];
  mkdirSync(path.join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench/results/decode-stream.md'), md.join('\n'));
  process.stderr.write('wrote bench/results/decode-stream.md\n');
}
