import { ClipEdgeError } from '../errors.ts';

/**
 * Compiled codec WebAssembly, supplied by the runtime adapter: Workers import the `.wasm` as a
 * `WebAssembly.Module` (they may not compile bytes), Node/Deno/Bun read and compile the file
 * from node_modules (src/runtime/fs/codecs.ts), browsers fetch and compile it. Each function
 * is called at most once per decoder, on the first image of that format.
 */
export interface ImageCodecWasm {
  /** mozjpeg's decoder: `@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm`. */
  readonly jpeg?: () => Promise<WebAssembly.Module>;
  /**
   * libjpeg-turbo as this package builds it (`src/core/image/libjpeg-turbo.wasm`, from
   * codecs/libjpeg-turbo/): when given, JPEG is decoded with it instead of mozjpeg, row by row
   * into the resize (a baseline JPEG is never whole in memory), with DCT-scaled decoding available
   * (see ImageDecoderOptions.jpegScaling). Same pixels as mozjpeg and PIL when not scaled.
   */
  readonly jpegTurbo?: () => Promise<WebAssembly.Module>;
  /** libwebp's decoder: `@jsquash/webp/codec/dec/webp_dec.wasm` (whole images: lossless, animated-frame checks, decode()). */
  readonly webp?: () => Promise<WebAssembly.Module>;
  /**
   * libwebp's lossy decoder as this package builds it (`src/core/image/libwebp.wasm`, from
   * codecs/libwebp/): when given, a lossy WebP goes to CLIP's crop row by row, never whole in
   * memory. Same pixels as `webp` and PIL.
   */
  readonly webpStream?: () => Promise<WebAssembly.Module>;
}

/** What the jsquash decoders return: RGBA, 4 bytes per pixel (a copy, not a view of wasm memory). */
export interface RgbaPixels {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray | Uint8Array;
}

interface EmscriptenOptions {
  noInitialRun: boolean;
  instantiateWasm: (imports: WebAssembly.Imports, receive: (instance: WebAssembly.Instance) => void) => WebAssembly.Exports;
  print: (message: string) => void;
  printErr: (message: string) => void;
}

/** An Emscripten module factory from jsquash (`mozjpeg_dec.js`, `webp_dec.js`). */
export type EmscriptenFactory<M> = (options: EmscriptenOptions) => Promise<M>;

/**
 * One lazily instantiated Emscripten codec. The compiled module is requested once; the instance
 * is created on first use and thrown away after a codec failure (libjpeg's error_exit leaves the
 * wasm heap in an unknown state) or after a large image (wasm memory never shrinks, and a
 * Workers isolate has 128 MB), then re-instantiated from the same compiled module, which is cheap.
 * Calls into the instance are synchronous, so concurrent decodes cannot interleave inside it.
 */
export class WasmCodec<M> {
  private compiled: Promise<WebAssembly.Module> | null = null;
  private instance: Promise<M> | null = null;
  /** Messages the codec printed during the current call (libjpeg warnings and errors). */
  private log: string[] = [];
  /** Wasm memory of the instance after the last call (bytes; 0 when unknown). */
  lastMemoryBytes = 0;

  constructor(
    private readonly name: string,
    private readonly getModule: (() => Promise<WebAssembly.Module>) | undefined,
    private readonly loadFactory: () => Promise<EmscriptenFactory<M>>,
  ) {}

  /**
   * Runs `fn` against the instance; `discard` drops the instance afterwards. A throw inside the
   * codec becomes a {@link CodecFailure} carrying the last message the codec printed.
   */
  async run<T>(fn: (module: M, log: readonly string[]) => T, discard = false): Promise<T> {
    const module = await this.ready();
    const log: string[] = [];
    this.log = log;
    try {
      const out = fn(module, log);
      this.lastMemoryBytes = (module as { HEAPU8?: Uint8Array }).HEAPU8?.byteLength ?? 0;
      return out;
    } catch (e) {
      this.instance = null;
      throw new CodecFailure(log.at(-1) ?? (e instanceof Error ? e.message : String(e)), e);
    } finally {
      if (discard) this.instance = null;
    }
  }

  private ready(): Promise<M> {
    this.instance ??= this.instantiate().catch((e: unknown) => {
      this.instance = null; // let a later call retry (a provider may fail transiently)
      throw e;
    });
    return this.instance;
  }

  private async instantiate(): Promise<M> {
    const getModule = this.getModule;
    if (!getModule) {
      throw new ClipEdgeError(
        'UNSUPPORTED_IMAGE',
        `${this.name} decoding is not available here: the runtime supplied no codec wasm (createImageDecoder({ wasm }))`,
      );
    }
    this.compiled ??= getModule().catch((e: unknown) => {
      this.compiled = null;
      throw new ClipEdgeError('INTERNAL', `Could not load the ${this.name} decoder wasm: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
      });
    });
    const [wasm, factory] = await Promise.all([this.compiled, this.loadFactory()]);
    const sink = (m: string): void => {
      this.log.push(m);
    };
    return factory({
      noInitialRun: true,
      // Synchronous instantiation from a compiled module, as jsquash's own init(module) does.
      instantiateWasm: (imports, receive) => {
        const instance = new WebAssembly.Instance(wasm, imports);
        receive(instance);
        return instance.exports;
      },
      print: sink,
      printErr: sink,
    });
  }
}

/** A codec call that threw (libjpeg's error_exit ends in exit(), surfacing as an ExitStatus). */
export class CodecFailure extends Error {
  override readonly name = 'CodecFailure';
  constructor(message: string, cause: unknown) {
    super(message, { cause });
  }
}
