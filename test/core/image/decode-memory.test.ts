// The decode budget counts codec instances kept idle between decodes (their wasm memory sits
// outside every reservation) and lets them go when a decode would not fit beside them; the
// decoder reports the codecs' live memory (in use + idle) and its high-water mark.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClipEdgeError } from '../../../src/core/errors.ts';
import { DecodeMemory } from '../../../src/core/image/decode-memory.ts';
import { jpegForClipBytes } from '../../../src/core/image/decode-cost.ts';
import { createImageDecoder } from '../../../src/core/image/decoder.ts';
import { readJpegHeader } from '../../../src/core/image/jpeg-header.ts';
import { CLIP_PREPROCESS } from '../../../src/core/image/preprocess.ts';
import type { KeptInstances } from '../../../src/core/image/wasm-instances.ts';
import { nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { repoRoot } from '../../helpers/shared-data.ts';

/** A codec whose idle instance holds `bytes` until dropped. */
function kept(bytes: number): KeptInstances & { dropped: boolean } {
  return {
    dropped: false,
    idleBytes() {
      return this.dropped ? 0 : bytes;
    },
    dropIdle() {
      this.dropped = true;
    },
  };
}

describe('DecodeMemory: idle codec instances', () => {
  it('one at a time (a budget that follows the model): a decode gets the room the other codecs\' idle instances leave, and they are kept', async () => {
    const jpeg = kept(30);
    const webp = kept(0);
    const m = new DecodeMemory(() => 100, [jpeg, webp]);
    m.refresh();
    const seen = await m.reserved(20, undefined, async () => m.usage().reservedBytes, webp);
    expect(seen).toBe(70); // 100 − the idle JPEG instance's 30
    expect(jpeg.dropped).toBe(false);
  });

  it('lets the other codecs\' idle instances go when the decode would not fit beside them', async () => {
    const jpeg = kept(30);
    const webp = kept(0);
    const m = new DecodeMemory(() => 100, [jpeg, webp]);
    m.refresh();
    const seen = await m.reserved(80, undefined, async () => m.usage().reservedBytes, webp);
    expect(seen).toBe(80);
    expect(jpeg.dropped).toBe(true);
  });

  it('a decode that takes its own codec\'s idle instance reserves at least that instance\'s memory and keeps it', async () => {
    const jpeg = kept(50);
    const m = new DecodeMemory(60, [jpeg]);
    const seen = await m.reserved(20, undefined, async () => m.usage().reservedBytes, jpeg);
    expect(seen).toBe(50); // the instance it decodes in is 50 bytes, more than the 20 planned
    expect(jpeg.dropped).toBe(false);
  });

  it('a fixed budget: concurrent reservations share the room left by idle instances', async () => {
    const jpeg = kept(40);
    const m = new DecodeMemory(100, [jpeg]);
    let release!: () => void;
    const first = m.reserved(50, undefined, () => new Promise<void>((r) => (release = r)));
    let secondRan = false;
    const second = m.reserved(20, undefined, async () => {
      secondRan = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(m.usage()).toEqual({ reservedBytes: 50, waiting: 1 }); // 50 + 20 > 100 − 40
    expect(secondRan).toBe(false);
    release();
    await Promise.all([first, second]);
    expect(secondRan).toBe(true);
  });
});

describe('the decoder\'s codec memory', () => {
  const read = (name: string) => new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs', name)));

  it('counts the instances alive (kept idle between decodes) and their high-water mark; an idle one that would not fit beside a decode is let go', async () => {
    let budget = 64 << 20;
    const d = createImageDecoder({ wasm: nodeImageCodecs({ jpegTurbo: true }), decodeBudgetBytes: () => budget });
    expect(d.codecMemoryBytes()).toBe(0);
    const jpegBytes = read('baseline-420.jpg');
    await d.decodeForClip(jpegBytes, CLIP_PREPROCESS);
    const jpeg = d.codecMemoryBytes();
    expect(jpeg).toBeGreaterThan(0); // kept idle for the next JPEG
    expect(d.codecMemoryPeakBytes()).toBe(jpeg);
    await d.decodeForClip(read('lossy.webp'), CLIP_PREPROCESS);
    const both = d.codecMemoryBytes();
    expect(both).toBeGreaterThan(jpeg); // the WebP instance kept idle too
    expect(d.codecMemoryPeakBytes()).toBe(both);
    // The next JPEG decode does not fit beside the idle WebP instance: that one is let go.
    const need = Math.max(jpegForClipBytes(readJpegHeader(jpegBytes), 1, CLIP_PREPROCESS), jpeg);
    budget = need + (both - jpeg) - 1;
    expect((await d.decodeForClip(jpegBytes, CLIP_PREPROCESS)).decode).toBe('exact');
    expect(d.codecMemoryBytes()).toBe(jpeg);
    expect(d.codecMemoryPeakBytes()).toBe(both); // the mark: both were alive when the decode began
    expect(d.codecMemoryPeakBytes()).toBe(jpeg); // and starts again from what is alive
  });
});

describe('a streamed lossy WebP decoded in the calling thread', () => {
  it('lets the event loop run between rows and stops where it is when its signal aborts; the codec is fine afterwards', async () => {
    const { init, default: encode } = await import('@jsquash/webp/encode.js');
    const { createRequire } = await import('node:module');
    const require = createRequire(import.meta.url);
    await init(await WebAssembly.compile(readFileSync(require.resolve('@jsquash/webp/codec/enc/webp_enc.wasm'))));
    const [w, h] = [2400, 1800]; // 4.3 MP: two yields at 2 MP each
    const data = new Uint8ClampedArray(w * h * 4);
    for (let i = 0; i < data.length; i += 4) [data[i], data[i + 1], data[i + 2], data[i + 3]] = [(i >> 4) & 255, (i >> 10) & 255, 90, 255];
    const webp = new Uint8Array(await encode({ data, width: w, height: h, colorSpace: 'srgb' } as ImageData, { quality: 70 }));
    const d = createImageDecoder({ wasm: nodeImageCodecs() });
    const ac = new AbortController();
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
      ac.abort(new ClipEdgeError('TIMEOUT', 'deadline'));
    }, 0);
    try {
      await expect(d.decodeForClip(webp, CLIP_PREPROCESS, ac.signal)).rejects.toMatchObject({ code: 'TIMEOUT' });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0); // a timer ran while the decode was under way
    const whole = await createImageDecoder({ wasm: nodeImageCodecs() }).decodeForClip(webp, CLIP_PREPROCESS);
    const again = await d.decodeForClip(webp, CLIP_PREPROCESS);
    expect(again.decode).toBe('exact');
    expect(Buffer.from(again.crop.data).equals(Buffer.from(whole.crop.data))).toBe(true);
  });
});
