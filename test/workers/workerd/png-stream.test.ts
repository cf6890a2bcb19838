// The streamed PNG path inside workerd, where the inflater's output is read into one buffer of
// ours (a BYOB reader: workerd's DecompressionStream is a byte stream; Node's is not, so
// test/core/image runs the other reader): CLIP's crop is PIL's to the last byte, and a decode
// cancelled as it starts leaves the next one whole.
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { createImageDecoder } from '../../../src/core/image/decoder.ts';
import { CLIP_PREPROCESS } from '../../../src/core/image/preprocess.ts';
import { repoFile } from './helpers.ts';

describe('a streamed PNG in workerd', () => {
  it('reads the inflated rows through a BYOB reader, and the crop is PIL\'s (CLIP.png, 2162×762)', async () => {
    const reader = new DecompressionStream('deflate').readable.getReader({ mode: 'byob' }); // the path under test exists here
    reader.releaseLock();
    const png = await repoFile('test/fixtures/images/CLIP.png');
    const ref = decode(await repoFile('test/fixtures/pil/refs/CLIP_png.clip224.png'));
    expect([ref.width, ref.height, ref.channels]).toEqual([224, 224, 3]);
    const d = createImageDecoder();
    const first = await d.decodeForClip(png, CLIP_PREPROCESS);
    expect(first.decode).toBe('exact');
    expect(Array.from(first.crop.data)).toEqual(Array.from(ref.data as Uint8Array));
    // Cancelled as it starts, then the same image again.
    const ac = new AbortController();
    const stopped = d.decodeForClip(png, CLIP_PREPROCESS, ac.signal);
    ac.abort();
    await expect(stopped).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(Array.from((await d.decodeForClip(png, CLIP_PREPROCESS)).crop.data)).toEqual(Array.from(ref.data as Uint8Array));
  });
});
