import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createImageDecoder } from '../../../src/core/image/decoder.ts';
import { resizeAndCenterCrop } from '../../../src/core/image/preprocess.ts';
import { nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { repoRoot } from '../../helpers/shared-data.ts';
import { hugeImage } from './huge-image.ts';
import { COMMITTED_REFS, ParityReport, configOf, diff, loadIndex, readRefPng, sha256, type RefEntry } from './refs.ts';

// Committed refs: synthetic edge cases + CLIP.png, made by test/fixtures/pil/make_refs.py from PIL.
const index = loadIndex(COMMITTED_REFS);
if (!index) throw new Error('test/fixtures/pil/refs/index.json is missing: run /usr/bin/python3 test/fixtures/pil/make_refs.py');
const decoder = createImageDecoder({ wasm: nodeImageCodecs() });
const report = new ParityReport();

const groupOf = (e: RefEntry): string => {
  if (e.generated) return `generated ${e.name}`;
  if (e.name === 'CLIP.png') return 'CLIP.png';
  if (e.name.startsWith('exif')) return 'exif orientation';
  if (/^(strip|tiny)-/.test(e.name)) return 'strips + tiny';
  return path.extname(e.name).slice(1);
};

/** The tolerance the pipeline promises; the report shows how close it really is (so far: exact). */
function expectClose(d: ReturnType<typeof diff>): void {
  expect(d.maxDiff).toBeLessThanOrEqual(1);
  expect(d.exact / d.values).toBeGreaterThanOrEqual(0.99);
}

describe('PIL parity (committed refs)', () => {
  for (const entry of index.entries) {
    const group = groupOf(entry);
    it(`${entry.name}: decode, resize, crop (${entry.crops.map((c) => c.config).join(', ')})`, async () => {
      let img;
      if (entry.generated === 'huge') {
        img = hugeImage();
      } else {
        const bytes = new Uint8Array(readFileSync(path.join(repoRoot, entry.source!)));
        expect(sha256(bytes)).toBe(entry.sha256);
        img = await decoder.decode(bytes);
        expect([img.width, img.height]).toEqual([entry.width, entry.height]);
        const d = entry.decoded ? diff(img, readRefPng(path.join(COMMITTED_REFS, entry.decoded))) : null;
        if (d) report.add(`${group}: decode`, d);
        // Every input also has the sha256 of PIL's RGB bytes, so decoding is checked exactly.
        expect(sha256(img.data), 'decoded RGB differs from PIL').toBe(entry.decodedSha256);
        if (!d) report.add(`${group}: decode (sha256)`, { values: img.data.length, exact: img.data.length, offByOne: 0, maxDiff: 0 });
      }
      for (const c of entry.crops) {
        const ours = resizeAndCenterCrop(img, configOf(c));
        const d = diff(ours, readRefPng(path.join(COMMITTED_REFS, c.file)));
        report.add(`${group}: resize+crop`, d);
        expectClose(d);
      }
    });
  }

  afterAll(() => {
    console.log(`PIL ${index.pil} parity, committed refs:\n${report.toString()}`);
  });
});

// decodeForClip streams non-interlaced PNGs row by row into the crop (src/core/image/png-stream.ts):
// the same bytes as decoding whole then cropping, and as close to PIL.
describe('PIL parity of the streamed PNG path (decodeForClip)', () => {
  const pngs = index.entries.filter((e) => e.source?.endsWith('.png'));
  it.each(pngs.map((e) => [e.name, e] as const))('%s', async (_, entry) => {
    const bytes = new Uint8Array(readFileSync(path.join(repoRoot, entry.source!)));
    const whole = await decoder.decode(bytes);
    for (const c of entry.crops) {
      const { crop } = await decoder.decodeForClip(bytes, configOf(c));
      expect(Buffer.from(crop.data).equals(Buffer.from(resizeAndCenterCrop(whole, configOf(c)).data)), `${entry.name} ${c.config}`).toBe(true);
      expectClose(diff(crop, readRefPng(path.join(COMMITTED_REFS, c.file))));
    }
  });
});
