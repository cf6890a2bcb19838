import { ClipEdgeError } from '../errors.ts';
import { corrupt } from './errors.ts';
import { assertJpegComplete, type JpegHeader } from './jpeg-header.ts';
import type { RgbImage } from './types.ts';

/*
 * libjpeg-turbo's TurboJPEG API in WebAssembly (`@cwasm/jpeg-turbo`: a plain clang/WASI build that
 * exports malloc, free, tjInitDecompress, tjDecompressHeader3, tjDecompress2 and tjDestroy).
 * Used instead of mozjpeg (jsquash) where memory is tight, for two things jsquash cannot do:
 * - the decoded RGB stays in the codec's wasm memory and is resized from there (jsquash returns a
 *   JS copy of RGBA: a 12 MP photo then costs ~50 MB of wasm plus 48 MB of copy);
 * - DCT-domain scaled decoding (tjDecompress2 with a smaller size picks libjpeg's scale 1/2, 1/4 or
 *   1/8: the reduced IDCT), for images far larger than CLIP's 224 px that would not fit otherwise.
 * Unscaled, it is libjpeg-turbo with its defaults (islow IDCT, fancy upsampling): PIL's decoder,
 * pixel for pixel. The package's own index.js (fs + a JS copy) is not used, only its .wasm.
 */

interface TurboExports {
  readonly memory: WebAssembly.Memory;
  malloc(size: number): number;
  free(ptr: number): void;
  tjInitDecompress(): number;
  tjDestroy(handle: number): number;
  tjDecompressHeader3(handle: number, buf: number, size: number, w: number, h: number, subsamp: number, colorspace: number): number;
  tjDecompress2(handle: number, buf: number, size: number, dst: number, width: number, pitch: number, height: number, pixelFormat: number, flags: number): number;
}

const TJPF_RGB = 0;
const ENOSYS = 52;

/** libjpeg's error_exit longjmps; the build imports longjmp from JS, so it arrives here as a throw. */
class LibjpegError extends Error {}

/** DCT scaling: 1 (exact), 1/2, 1/4, 1/8. */
export type JpegScale = 1 | 2 | 4 | 8;

/** Size libjpeg gives at scale 1/`denom` (TJSCALED: rounded up). */
export const scaledJpegSize = (width: number, height: number, denom: JpegScale): { width: number; height: number } => ({
  width: Math.ceil(width / denom),
  height: Math.ceil(height / denom),
});

/** Wasm memory the codec needs to decode `header` at 1/`denom` (file + whole-image coefficients + RGB output + 1 MiB of libjpeg state). */
export function jpegTurboDecodeBytes(header: JpegHeader, fileBytes: number, denom: JpegScale): number {
  const s = scaledJpegSize(header.width, header.height, denom);
  return fileBytes + header.coefficientBytes + s.width * s.height * 3 + (1 << 20);
}

/** Stored-orientation RGB in the codec's wasm memory, valid only inside the callback. */
export type DecodedView = RgbImage;

/**
 * One libjpeg-turbo instance, created on first use from the compiled module and dropped after a
 * failure (a longjmp thrown through wasm leaves its stack pointer behind) or after a large image
 * (wasm memory never shrinks): a fresh instance from the same compiled module is cheap.
 */
export class JpegTurboCodec {
  private compiled: Promise<WebAssembly.Module> | null = null;
  private instance: TurboExports | null = null;
  /** Wasm memory of the instance after the last decode (bytes). */
  lastMemoryBytes = 0;

  constructor(private readonly getModule: () => Promise<WebAssembly.Module>) {}

  /**
   * Decodes at scale 1/`denom` and calls `use` with a view of the RGB pixels inside wasm memory
   * (stored orientation); the buffers are freed when `use` returns. `discard` drops the instance after.
   */
  async decode<T>(bytes: Uint8Array, header: JpegHeader, denom: JpegScale, use: (view: DecodedView) => T, discard: boolean): Promise<T> {
    assertJpegComplete(bytes, header.scanOffset);
    const e = await this.ready();
    let input = 0;
    let output = 0;
    let handle = 0;
    let failed = true;
    try {
      input = e.malloc(bytes.length);
      if (!input) throw new ClipEdgeError('IMAGE_TOO_LARGE', `Not enough memory to hold the ${bytes.length}-byte JPEG`);
      new Uint8Array(e.memory.buffer, input, bytes.length).set(bytes);
      handle = e.tjInitDecompress();
      if (!handle) throw new ClipEdgeError('INTERNAL', 'libjpeg-turbo could not create a decompressor');
      const { width, height } = scaledJpegSize(header.width, header.height, denom);
      output = e.malloc(width * height * 3);
      if (!output) throw new ClipEdgeError('IMAGE_TOO_LARGE', `Not enough memory to decode a ${width}×${height} JPEG`);
      // A return of -1 without a longjmp is a libjpeg warning (e.g. corrupt entropy data): like
      // PIL and mozjpeg, the pixels it produced are kept (truncation was refused above).
      e.tjDecompress2(handle, input, bytes.length, output, width, 0, height, TJPF_RGB, 0);
      e.free(input);
      input = 0;
      this.lastMemoryBytes = e.memory.buffer.byteLength;
      const result = use({ width, height, data: new Uint8Array(e.memory.buffer, output, width * height * 3) });
      failed = false;
      return result;
    } catch (err) {
      if (err instanceof LibjpegError) throw corrupt('JPEG', 'libjpeg-turbo stopped on invalid data', err);
      throw err;
    } finally {
      if (failed || discard) {
        this.instance = null; // its heap and stack are abandoned with it
      } else {
        if (handle) e.tjDestroy(handle);
        if (input) e.free(input);
        if (output) e.free(output);
      }
    }
  }

  private async ready(): Promise<TurboExports> {
    if (this.instance) return this.instance;
    this.compiled ??= this.getModule().catch((err: unknown) => {
      this.compiled = null;
      throw new ClipEdgeError('INTERNAL', `Could not load the libjpeg-turbo wasm: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    const module = await this.compiled;
    const bound: { memory?: WebAssembly.Memory } = {};
    const zero = (...ptrs: number[]): number => {
      const v = new DataView(bound.memory!.buffer);
      for (const p of ptrs) v.setUint32(p, 0, true);
      return 0;
    };
    const instance = new WebAssembly.Instance(module, {
      env: {
        // setjmp always "returns 0"; error_exit's longjmp becomes a JS throw that unwinds the call.
        setjmp: () => 0,
        longjmp: () => {
          throw new LibjpegError('libjpeg error_exit');
        },
      },
      wasi_snapshot_preview1: {
        environ_sizes_get: (count: number, size: number) => zero(count, size), // no JPEGMEM
        environ_get: () => 0,
        proc_exit: (code: number) => {
          throw new LibjpegError(`libjpeg-turbo exited (${code})`);
        },
        fd_close: () => ENOSYS,
        fd_seek: () => ENOSYS,
        fd_write: () => ENOSYS,
      },
    });
    const exports = instance.exports as unknown as TurboExports;
    bound.memory = exports.memory;
    this.instance = exports;
    return exports;
  }
}
