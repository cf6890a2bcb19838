// Photo-sized images (12, 24 and 48 MP; baseline JPEG, PNG and WebP; EXIF-rotated ones included)
// against PIL's own output: test/fixtures/pil/large_photos.py draws them and writes PIL's CLIP crop
// (Image.open, exif_transpose, convert("RGB"), bicubic resize, center crop) of each;
// decodeForClip must give the same 224 × 224 × 3 bytes. Too large to commit, so made here, with
// Debian's python3-pil and python3-numpy (CI installs them), once per checkout (test/helpers/large-photos.ts).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createImageDecoder } from '../../../src/core/image/decoder.ts';
import { CLIP_PREPROCESS } from '../../../src/core/image/preprocess.ts';
import { nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { type LargePhoto, largePhotos, PYTHON } from '../../helpers/large-photos.ts';
import { prerequisite } from '../../helpers/prerequisite.ts';

const hasPil = existsSync(PYTHON) && spawnOk([PYTHON, '-c', 'import PIL, numpy']);

function spawnOk(cmd: string[]): boolean {
  try {
    execFileSync(cmd[0]!, cmd.slice(1), { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** large_photos.py's cases, in its order. */
const CASES = ['jpeg-12mp', 'jpeg-12mp-exif6', 'jpeg-24mp', 'jpeg-48mp-exif8', 'png-12mp-exif6', 'png-24mp', 'png-48mp', 'webp-12mp-exif6', 'webp-24mp', 'webp-48mp'];

describe.skipIf(!prerequisite(hasPil, 'Debian python3-pil and python3-numpy'))('PIL parity at 12, 24 and 48 MP (streamed JPEG and PNG, WebP)', () => {
  let cases: LargePhoto[] = [];
  const ready = (): LargePhoto[] => {
    if (cases.length === 0) cases = largePhotos(CASES);
    return cases;
  };
  // The server's defaults, but for 48 MP (over the default 40 MP limit).
  const decoder = createImageDecoder({ wasm: nodeImageCodecs(), maxPixels: 50_000_000 });

  it('PIL made every case', { timeout: 600_000 }, () => {
    expect(ready().map((c) => c.name)).toEqual(CASES);
  });

  it.each(CASES)('%s: decodeForClip gives PIL\'s crop, byte for byte', { timeout: 600_000 }, async (name) => {
    const c = ready().find((x) => x.name === name)!;
    const bytes = new Uint8Array(readFileSync(c.file));
    const r = await decoder.decodeForClip(bytes, CLIP_PREPROCESS);
    expect([r.width, r.height]).toEqual(c.upright);
    expect(r.decode).toBe('exact');
    const want = readFileSync(c.crop);
    let differing = 0;
    for (let i = 0; i < want.length; i++) if (r.crop.data[i] !== want[i]) differing++;
    expect(differing, `${differing} of ${want.length} values differ from PIL`).toBe(0);
  });
});
