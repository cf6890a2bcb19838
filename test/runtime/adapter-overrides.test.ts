// createFromAdapter: what a caller gives in `imageDecode` goes on top of the adapter's imageDecode
// defaults, key by key. Replacing the whole object dropped the adapter's decode budget (Workers: the
// budget that follows the model, and yieldBetweenRows: false) when a caller set only jpegScaling.
import { describe, expect, it } from 'vitest';
import { createFromAdapter } from '../../src/runtime/adapter.ts';
import { fsAdapter } from '../../src/runtime/fs/adapter.ts';
import { pngWithScanlines } from '../core/image/png-builder.ts';

describe('createFromAdapter: imageDecode overrides', () => {
  it('a caller that sets jpegScaling keeps the adapter\'s decode budget', async () => {
    // The adapter's imageDecode: a 1,000-byte budget (no image fits), decodes on the calling thread.
    const kit = await createFromAdapter(fsAdapter, { imageDecode: { budgetBytes: 1_000 }, decodeThreads: 0 }, { imageDecode: { jpegScaling: true } });
    try {
      const png = pngWithScanlines(64, 64, new Uint8Array(64 * (1 + 64 * 3)));
      await expect(kit.embedImage(png)).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    } finally {
      await kit.close?.();
    }
  });
});
