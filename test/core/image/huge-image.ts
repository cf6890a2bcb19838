import type { RgbImage } from '../../../src/core/image/types.ts';

/** The 4000×3000 test picture, same integer formula as huge_image() in test/fixtures/pil/make_refs.py. */
export const HUGE_WIDTH = 4000;
export const HUGE_HEIGHT = 3000;

export function hugeImage(): RgbImage {
  const data = new Uint8Array(HUGE_WIDTH * HUGE_HEIGHT * 3);
  let o = 0;
  for (let y = 0; y < HUGE_HEIGHT; y++) {
    for (let x = 0; x < HUGE_WIDTH; x++) {
      data[o++] = ((x >> 3) * 16 + (y >> 4) * 8) & 255;
      data[o++] = ((x * y) >> 12) & 255;
      data[o++] = (x ^ y) & 255;
    }
  }
  return { width: HUGE_WIDTH, height: HUGE_HEIGHT, data };
}
