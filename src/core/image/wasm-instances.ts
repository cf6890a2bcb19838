import { ClipEdgeError } from '../errors.ts';

/** Codec instances kept idle between decodes, as the decode budget sees them (DecodeMemory). */
export interface KeptInstances {
  /** Wasm memory of the instance kept idle now (0 when none): memory outside every decode's reservation. */
  idleBytes(): number;
  /** Lets the idle instance go (a decode needs its room; a fresh one costs ~1 ms). */
  dropIdle(): void;
}

/**
 * Instances of one compiled codec module (this package's libjpeg-turbo and libwebp builds): a decode
 * takes the idle instance or makes a fresh one (cheap, from the compiled module), so concurrent
 * decodes never share one; afterwards the caller keeps it idle for the next decode, or drops it —
 * after a failure thrown through wasm (its stack pointer is left behind) or a large image (wasm
 * memory never shrinks). Counts the wasm memory of the instances it knows (in use and idle) and
 * its high-water mark.
 */
export class WasmInstances<I> implements KeptInstances {
  private compiled: Promise<WebAssembly.Module> | null = null;
  private idle: I | null = null;
  private readonly inUse = new Set<I>();
  private peak = 0;

  constructor(
    private readonly name: string,
    private readonly getModule: () => Promise<WebAssembly.Module>,
    private readonly instantiate: (module: WebAssembly.Module) => I,
    private readonly memoryOf: (instance: I) => number,
  ) {}

  async acquire(): Promise<I> {
    const idle = this.idle;
    if (idle) {
      this.idle = null;
      this.inUse.add(idle);
      return idle;
    }
    this.compiled ??= this.getModule().catch((err: unknown) => {
      this.compiled = null;
      throw new ClipEdgeError('INTERNAL', `Could not load the ${this.name} wasm: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    const instance = this.instantiate(await this.compiled);
    this.inUse.add(instance);
    return instance;
  }

  /** Done with `instance`: kept for the next decode (unless one is kept already), or dropped. */
  release(instance: I, keep: boolean): void {
    this.peak = Math.max(this.peak, this.liveBytes());
    this.inUse.delete(instance);
    if (keep) this.idle ??= instance;
  }

  idleBytes(): number {
    return this.idle ? this.memoryOf(this.idle) : 0;
  }

  dropIdle(): void {
    this.peak = Math.max(this.peak, this.liveBytes());
    this.idle = null;
  }

  /** Wasm memory of the instances in use and idle now. */
  liveBytes(): number {
    let n = this.idleBytes();
    for (const i of this.inUse) n += this.memoryOf(i);
    return n;
  }

  /**
   * The most {@link liveBytes} seen since the previous call (each decode's instance at its largest;
   * read when instances are released or dropped, and now).
   */
  takePeak(): number {
    const peak = Math.max(this.peak, this.liveBytes());
    this.peak = 0;
    return peak;
  }
}
