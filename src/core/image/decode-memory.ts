import { throwIfAborted } from '../abort.ts';
import { ByteBudget } from './byte-budget.ts';
import type { KeptInstances } from './wasm-instances.ts';

const MiB = 1024 * 1024;

/** Budgets up to this keep the JPEG codec instance between decodes (see DecodeMemory.keepCodec). */
const KEEP_CODEC_BUDGET_BYTES = 256 * MiB;

/**
 * Without a small budget, a codec instance whose decode needed more than this is dropped after it
 * (wasm memory never shrinks): what a decoder keeps idle outside any budget (Node's decode threads
 * have none: theirs is the main thread's) stays under ~4 MiB per codec.
 */
const DISCARD_AFTER_BYTES = 4 * MiB;

/**
 * The decode budget of one decoder (ImageDecoderOptions.decodeBudgetBytes): the figure a decode is
 * planned against, the reservations decodes hold while they work, and what codec instances keep.
 * A codec instance kept idle between decodes holds wasm memory outside every reservation: it is
 * counted against the budget (the room left for reservations is the budget less the idle instances
 * of the codecs a decode does not use), and let go when a decode would not fit beside it.
 */
export class DecodeMemory {
  /** The budget of the decode being planned (asked once per decode when the option is a function). */
  bytes: number;
  private readonly pool: ByteBudget;
  private readonly budgeted: boolean;
  /**
   * A budget that follows the model (a memory-capped isolate, one thread): decodes take turns, as
   * running them interleaved would gain no speed there and would hold every decode's state at once.
   */
  private readonly oneAtATime: boolean;
  /**
   * A small budget (a memory-capped isolate) keeps the JPEG codec's instance: its memory, which
   * never shrinks, then stays within the budget instead of piling up in abandoned instances until a GC.
   */
  readonly keepCodec: boolean;

  constructor(
    private readonly option: number | (() => number),
    /** The codecs whose idle instances count against the budget. */
    private readonly kept: readonly KeptInstances[] = [],
    /** Waiters poll for their grants (Workers: see ByteBudget). */
    pollGrants = false,
  ) {
    this.bytes = typeof option === 'number' ? option : Infinity;
    this.pool = new ByteBudget(() => this.refresh() - this.idleBytes(), { pollGrants });
    this.budgeted = option !== Infinity;
    this.oneAtATime = typeof option === 'function';
    this.keepCodec = typeof option === 'function' || option <= KEEP_CODEC_BUDGET_BYTES;
  }

  /** Asks a budget function again (the room an isolate has left can change); the current budget. */
  refresh(): number {
    if (typeof this.option === 'function') this.bytes = Math.max(0, this.option());
    return this.bytes;
  }

  /** Whether a codec instance that grew to `need` bytes is dropped after the decode. */
  discardAfter(need: number): boolean {
    return !this.keepCodec && need > DISCARD_AFTER_BYTES;
  }

  /** Wasm memory of the idle codec instances, but `using`'s (the decode takes that one). */
  idleBytes(using?: KeptInstances | null): number {
    let n = 0;
    for (const k of this.kept) if (k !== using) n += k.idleBytes();
    return n;
  }

  /**
   * Reserves `need` bytes of the budget for `fn` (waiting for room, up to the signal), then releases
   * them. `using`: the codec whose idle instance the decode takes (its memory is then the decode's:
   * the reservation covers it). Once granted, idle instances of other codecs that would not fit
   * beside the reservations are let go.
   */
  async reserved<T>(need: number, signal: AbortSignal | undefined, fn: () => Promise<T>, using: KeptInstances | null = null): Promise<T> {
    if (!this.budgeted) return fn();
    const own = Math.max(need, using?.idleBytes() ?? 0);
    // One at a time: the whole room the idle instances leave. (A budget function may answer
    // Infinity: a reservation of Infinity would come back as NaN.)
    const amount = this.oneAtATime && Number.isFinite(this.bytes) ? Math.max(own, this.bytes - this.idleBytes(using)) : own;
    const release = await this.pool.acquire(amount, signal);
    try {
      throwIfAborted(signal);
      if (this.pool.inUse + this.idleBytes(using) > this.bytes) for (const k of this.kept) if (k !== using) k.dropIdle();
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Whether decodes take turns holding the whole room (a budget that follows the model: a
   * memory-capped isolate), so that an image can be read when its turn comes (see turn).
   */
  takesTurns(): boolean {
    return this.budgeted && this.oneAtATime && Number.isFinite(this.refresh());
  }

  /**
   * For decodes that take turns: waits until no other decode holds memory and reserves the whole
   * budget (so nothing else is admitted beside it), then runs `fn`, which reads its image only
   * now and decodes it through `within(need, using, work)`; as in `reserved`, the idle instances of
   * other codecs are let go if the decode does not fit beside them. So an image waiting for its
   * turn is not yet in memory: four 12 MP request bodies waiting behind one decode were ~6 MiB of a
   * Worker's 128 MB. (Its image's size is unknown until read: the caller refuses one over the budget.)
   */
  async turn<T>(signal: AbortSignal | undefined, fn: (within: <U>(need: number, using: KeptInstances | null, work: () => Promise<U>) => Promise<U>) => Promise<T>): Promise<T> {
    const whole = this.refresh();
    // No finite budget to hold whole (a function answering Infinity): each decode reserves its own.
    if (!Number.isFinite(whole)) return fn((need, using, work) => this.reserved(need, signal, work, using));
    const release = await this.pool.acquire(whole, signal);
    try {
      throwIfAborted(signal);
      return await fn(async (need, using, work) => {
        const own = Math.max(need, using?.idleBytes() ?? 0);
        if (own + this.idleBytes(using) > this.bytes) for (const k of this.kept) if (k !== using) k.dropIdle();
        return work();
      });
    } finally {
      release();
    }
  }

  /** Decode memory reserved now, and decodes waiting for room. */
  usage(): { reservedBytes: number; waiting: number } {
    return { reservedBytes: this.pool.inUse, waiting: this.pool.queued };
  }
}
