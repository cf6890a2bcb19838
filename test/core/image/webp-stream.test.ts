// The stepped lossy WebP decode (webp_begin / webp_rows / webp_end in codecs/libwebp/clip_edge_webp.c):
// an abort between steps stops the decode there, and the instance, its decode ended by webp_end, is
// kept and gives the next image the same rows as a fresh instance. The image is drawn by PIL (too
// large to commit).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ClipEdgeError } from '../../../src/core/errors.ts';
import { readWebpHeader } from '../../../src/core/image/webp-header.ts';
import { WebpStreamCodec } from '../../../src/core/image/webp-stream.ts';
import { nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { prerequisite } from '../../helpers/prerequisite.ts';

const PYTHON = '/usr/bin/python3';
const hasPil = (() => {
  try {
    execFileSync(PYTHON, ['-c', 'import PIL, numpy'], { stdio: 'ignore' });
    return existsSync(PYTHON);
  } catch {
    return false;
  }
})();

describe.skipIf(!prerequisite(hasPil, 'Debian python3-pil and python3-numpy'))('streamed lossy WebP: decoded in steps', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clip-edge-webp-steps-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  // 2400 × 1800 (4.3 MP: the decode yields after each ~2 MP), smooth with some noise.
  const file = path.join(dir, 'big.webp');
  execFileSync(PYTHON, [
    '-c',
    `import numpy as np; from PIL import Image
h, w = 1800, 2400
y, x = np.mgrid[0:h, 0:w]
rng = np.random.default_rng(7)
img = np.stack([(x * 255 // w), (y * 255 // h), ((x + y) * 255 // (w + h))], -1) + rng.integers(0, 24, (h, w, 3))
Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(${JSON.stringify(file)}, 'WEBP', quality=80)`,
  ]);
  const bytes = new Uint8Array(readFileSync(file));
  const header = readWebpHeader(bytes);

  /** All rows of a decode, as one RGB buffer. */
  const decodeAll = async (codec: WebpStreamCodec): Promise<Uint8Array> => {
    const out = new Uint8Array(header.width * header.height * 3);
    await codec.decodeRows(bytes, header, (rows, y, count) => out.set(rows.subarray(0, count * header.width * 3), y * header.width * 3), false);
    return out;
  };

  it('stops at the next step when aborted, then decodes the next image with the kept instance as a fresh one does', async () => {
    const codec = new WebpStreamCodec(nodeImageCodecs().webpStream!);
    const ac = new AbortController();
    let rows = 0;
    const aborted = codec.decodeRows(
      bytes,
      header,
      (_, __, count) => {
        rows += count;
        if (!ac.signal.aborted) ac.abort(new ClipEdgeError('TIMEOUT', 'deadline'));
      },
      false,
      ac.signal,
    );
    await expect(aborted).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(rows).toBeGreaterThan(0);
    expect(rows).toBeLessThan(header.height);
    // The aborted decode's instance was ended cleanly and kept: the next decode takes it.
    expect(codec.instances.idleBytes()).toBeGreaterThan(0);
    const reused = await decodeAll(codec);
    const fresh = await decodeAll(new WebpStreamCodec(nodeImageCodecs().webpStream!));
    expect(Buffer.from(reused).equals(Buffer.from(fresh))).toBe(true);
  }, 60_000);
});
