import { throwIfAborted } from '../abort.ts';
import { ByteBudget } from './byte-budget.ts';

const MiB = 1024 * 1024;

/** Budgets up to this keep the JPEG codec instance between decodes (see DecodeMemory.keepCodec). */
const KEEP_CODEC_BUDGET_BYTES = 256 * MiB;

/** A codec instance whose wasm memory grew past this is dropped after the decode (memory never shrinks). */
const DISCARD_AFTER_BYTES = 16 * MiB;

/**
 * The decode budget of one decoder (ImageDecoderOptions.decodeBudgetBytes): the figure a decode is
 * planned against, the reservations decodes hold while they work, and what codec instances keep.
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

  constructor(private readonly option: number | (() => number)) {
    this.bytes = typeof option === 'number' ? option : Infinity;
    this.pool = new ByteBudget(() => this.refresh());
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

  /** Reserves `need` bytes of the budget for `fn` (waiting for room, up to the signal), then releases them. */
  async reserved<T>(need: number, signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    if (!this.budgeted) return fn();
    // (A budget function may answer Infinity: a reservation of Infinity would come back as NaN.)
    const release = await this.pool.acquire(this.oneAtATime && Number.isFinite(this.bytes) ? Math.max(need, this.bytes) : need, signal);
    try {
      throwIfAborted(signal);
      return await fn();
    } finally {
      release();
    }
  }

  /** Decode memory reserved now, and decodes waiting for room. */
  usage(): { reservedBytes: number; waiting: number } {
    return { reservedBytes: this.pool.inUse, waiting: this.pool.queued };
  }
}
