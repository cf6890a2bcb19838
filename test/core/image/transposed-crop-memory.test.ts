// Review finding: the transposed streaming crop (EXIF 5-8) allocates two Int32Arrays of the stored
// height (columnFeeds' CSR offsets and its fill copy) whatever part of the image the crop reads, so a
// tall, narrow PNG with orientation 6 (23 x 1,700,000: 39 MP in ~38 KB, within maxPixels,
// maxPixelsPerByte and the aspect limit) holds ~14 MB that its reservation (streamedPngBytes:
// ~1.1 MB) does not count.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect, it } from 'vitest';
import { streamedPngBytes } from '../../../src/core/image/png-stream.ts';
import { CLIP_PREPROCESS } from '../../../src/core/image/preprocess.ts';
import type { PngHeader } from '../../../src/core/image/png-header.ts';
import { createStreamingCrop } from '../../../src/core/image/resample-stream.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

it.each([6, 8, 5, 7])('orientation %i: the crop state of a 23 x 1,700,000 PNG stays within the reserved estimate', (orientation) => {
  const [w, h] = [23, 1_700_000];
  gc();
  const before = process.memoryUsage().arrayBuffers;
  const crop = createStreamingCrop(w, h, orientation, CLIP_PREPROCESS);
  gc();
  const held = process.memoryUsage().arrayBuffers - before;
  const estimate = streamedPngBytes({ width: w, height: h, colorType: 2, depth: 8, orientation } as PngHeader, CLIP_PREPROCESS);
  void crop.needsRow(0); // kept alive until measured
  expect(held).toBeLessThanOrEqual(estimate);
});
