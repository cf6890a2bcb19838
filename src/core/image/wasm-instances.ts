import { ClipEdgeError } from '../errors.ts';

/**
 * Instances of one compiled codec module (this package's libjpeg-turbo and libwebp builds): a decode
 * takes the idle instance or makes a fresh one (cheap, from the compiled module), so concurrent
 * decodes never share one; afterwards the caller keeps it idle for the next decode, or drops it —
 * after a failure thrown through wasm (its stack pointer is left behind) or a large image (wasm
 * memory never shrinks).
 */
export class WasmInstances<I> {
  private compiled: Promise<WebAssembly.Module> | null = null;
  private idle: I | null = null;

  constructor(
    private readonly name: string,
    private readonly getModule: () => Promise<WebAssembly.Module>,
    private readonly instantiate: (module: WebAssembly.Module) => I,
  ) {}

  async acquire(): Promise<I> {
    const idle = this.idle;
    if (idle) {
      this.idle = null;
      return idle;
    }
    this.compiled ??= this.getModule().catch((err: unknown) => {
      this.compiled = null;
      throw new ClipEdgeError('INTERNAL', `Could not load the ${this.name} wasm: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    return this.instantiate(await this.compiled);
  }

  /** Keeps `instance` for the next decode (unless one is kept already). */
  keep(instance: I): void {
    this.idle ??= instance;
  }
}
