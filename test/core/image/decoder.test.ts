import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createImageDecoder } from '../../../src/core/image/decoder.ts';
import { sniffImageFormat } from '../../../src/core/image/sniff.ts';
import { CODEC_WASM_PATHS, nodeImageCodecs } from '../../../src/runtime/fs/codecs.ts';
import { repoRoot } from '../../helpers/shared-data.ts';

const input = (name: string) => new Uint8Array(readFileSync(path.join(repoRoot, 'test/fixtures/pil/inputs', name)));

describe('headers', () => {
  const decoder = createImageDecoder();
  it('reads format, stored size and EXIF orientation without decoding (no wasm needed)', () => {
    expect(decoder.readHeader(input('baseline-420.jpg'))).toEqual({ format: 'jpeg', width: 300, height: 200, orientation: 1 });
    expect(decoder.readHeader(input('exif-orientation-6.jpg'))).toEqual({ format: 'jpeg', width: 48, height: 32, orientation: 6 });
    expect(decoder.readHeader(input('exif6.png'))).toEqual({ format: 'png', width: 32, height: 24, orientation: 6 });
    expect(decoder.readHeader(input('exif8.webp'))).toEqual({ format: 'webp', width: 60, height: 40, orientation: 8 });
    expect(decoder.readHeader(input('lossless.webp'))).toEqual({ format: 'webp', width: 70, height: 50, orientation: 1 });
    expect(decoder.readHeader(input('lossy-alpha.webp'))).toEqual({ format: 'webp', width: 70, height: 50, orientation: 1 });
    expect(decoder.readHeader(input('grey16.png').buffer as ArrayBuffer)).toMatchObject({ format: 'png', width: 40, height: 30 });
  });

  it('sniffs by magic bytes only', () => {
    expect(sniffImageFormat(input('lossy.webp'))).toBe('webp');
    expect(sniffImageFormat(input('rgb8.png'))).toBe('png');
    expect(sniffImageFormat(input('grey.jpg'))).toBe('jpeg');
    expect(sniffImageFormat(new TextEncoder().encode('<svg></svg>'))).toBeNull();
  });
});

describe('codec wasm', () => {
  it('is requested once, lazily, even for concurrent decodes', async () => {
    const node = nodeImageCodecs();
    const jpeg = vi.fn(node.jpeg!);
    const webp = vi.fn(node.webp!);
    const decoder = createImageDecoder({ wasm: { jpeg, webp } });
    expect(jpeg).not.toHaveBeenCalled();
    const names = ['baseline-420.jpg', 'progressive.jpg', 'grey.jpg', 'lossy.webp', 'rgb8.png', 'baseline-444.jpg'];
    const all = await Promise.all(names.map((n) => decoder.decode(input(n))));
    expect(all.map((i) => `${i.width}×${i.height}`)).toEqual(['300×200', '300×200', '300×200', '70×50', '40×30', '300×200']);
    expect(jpeg).toHaveBeenCalledTimes(1);
    expect(webp).toHaveBeenCalledTimes(1);
  });

  it('a failing provider is reported (INTERNAL) and retried on the next image', async () => {
    const node = nodeImageCodecs();
    const jpeg = vi.fn().mockRejectedValueOnce(new Error('disk on fire')).mockImplementation(node.jpeg!);
    const decoder = createImageDecoder({ wasm: { jpeg } });
    await expect(decoder.decode(input('grey.jpg'))).rejects.toMatchObject({ code: 'INTERNAL', message: /disk on fire/ });
    expect((await decoder.decode(input('grey.jpg'))).width).toBe(300);
    expect(jpeg).toHaveBeenCalledTimes(2);
  });

  it('the Node provider compiles the wasm from node_modules and the package, once per provider', async () => {
    expect(CODEC_WASM_PATHS).toEqual({
      jpeg: '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm',
      webp: '@jsquash/webp/codec/dec/webp_dec.wasm',
    });
    expect(nodeImageCodecs({ jpegTurbo: false }).jpegTurbo).toBeUndefined(); // mozjpeg when asked
    // The package's libjpeg-turbo (codecs/libjpeg-turbo/build.sh) by default: the scanline interface.
    expect(WebAssembly.Module.exports(await nodeImageCodecs().jpegTurbo!()).map((e) => e.name)).toEqual(
      expect.arrayContaining(['decoder_create', 'decoder_start', 'decoder_read', 'decoder_destroy']),
    );
    const codecs = nodeImageCodecs();
    const jpeg = await codecs.jpeg!();
    expect(jpeg).toBeInstanceOf(WebAssembly.Module);
    expect(await codecs.jpeg!()).toBe(jpeg);
    expect(WebAssembly.Module.exports(await codecs.webp!()).length).toBeGreaterThan(0);
  });

  it('accepts an ArrayBuffer and a Uint8Array view with an offset', async () => {
    const decoder = createImageDecoder({ wasm: nodeImageCodecs() });
    const bytes = input('lossless.webp');
    const padded = new Uint8Array(bytes.length + 7);
    padded.set(bytes, 7);
    const a = await decoder.decode(padded.subarray(7));
    const b = await decoder.decode(bytes.slice().buffer);
    expect(a).toEqual(b);
  });
});

describe('a decode budget function that answers Infinity', () => {
  it('lets every decode through, one after another (the reservation comes back whole)', async () => {
    const { pngWithScanlines } = await import('./png-builder.ts');
    const png = pngWithScanlines(4, 4, new Uint8Array(4 * (1 + 4 * 3)));
    const d = createImageDecoder({ decodeBudgetBytes: () => Infinity });
    for (let i = 0; i < 3; i++) {
      const ctl = new AbortController();
      const timer = setTimeout(() => ctl.abort(), 2_000); // a decode that waits for room would wait forever
      const img = await d.decode(png, ctl.signal);
      clearTimeout(timer);
      expect(img).toMatchObject({ width: 4, height: 4 });
    }
    expect(d.memory()).toEqual({ reservedBytes: 0, waiting: 0 });
  });
});
