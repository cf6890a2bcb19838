import type { Backend, SessionLike, TensorLike } from './backend.ts';
import { createBatchQueue, type BatchQueue } from './batch-queue.ts';
import { ClipEdgeError, isClipEdgeError } from './errors.ts';
import { BATCH } from './limits.ts';
import type { ModelInfo } from './model/info.ts';
import { sha256Hex, verifyBytes } from './model/integrity.ts';
import type { ModelSource } from './model/source.ts';
import type { Precision, Tower } from './precision.ts';

/** Graph inputs/outputs of the Hugging Face / Optimum layout (transformers.js exports add extra outputs). */
export const TOWER_IO = Object.freeze({
  vision: { inputs: ['pixel_values'], optionalInputs: [], output: 'image_embeds' },
  text: { inputs: ['input_ids'], optionalInputs: ['attention_mask'], output: 'text_embeds' },
} as const);

export interface TowerRunnerOptions {
  backend: Backend;
  source: ModelSource;
  info: ModelInfo;
  tower: Tower;
  precision: Precision;
  /** Check size and sha256 against the manifest before loading. @defaultValue true */
  verify?: boolean;
  /** Refuse a file the manifest lists without a sha256 (nothing to verify it against). @defaultValue false */
  requireIntegrity?: boolean;
  /**
   * Load the variant's ORT-format form in place (streamed into the backend's heap) when the manifest
   * lists one and the backend can. @defaultValue true
   */
  inPlace?: boolean;
  maxBatch?: number;
  maxQueue?: number;
}

/** Per-item input of a tower run: one image's pixels, or one text's ids and mask. */
export type VisionItem = Float32Array;
export interface TextItem {
  ids: BigInt64Array;
  mask: BigInt64Array;
}

/**
 * One tower of one variant on one backend: the session is created lazily, once, even under
 * concurrent requests; runs are serialised and micro-batched by a BatchQueue.
 */
export class TowerRunner<I extends VisionItem | TextItem> {
  readonly tower: Tower;
  readonly precision: Precision;
  readonly file: string;
  private session?: Promise<SessionLike>;
  private readonly queue: BatchQueue<I, Float32Array>;
  private readonly opts: TowerRunnerOptions;
  /** Milliseconds spent creating the session (undefined until loaded). */
  loadMs?: number;
  /** The session once created: `loaded` asks it whether it is still there (a crashed thread's is `lost`). */
  private created?: SessionLike;
  private fileSha?: string;

  constructor(opts: TowerRunnerOptions) {
    const entry = opts.info.variants[opts.precision]?.[opts.tower];
    if (!entry) {
      throw new ClipEdgeError('MODEL_NOT_FOUND', `${opts.source.name} has no ${opts.precision} ${opts.tower} encoder`);
    }
    this.opts = opts;
    this.tower = opts.tower;
    this.precision = opts.precision;
    this.file = entry.file;
    this.queue = createBatchQueue((items) => this.runBatch(items), { maxBatch: opts.maxBatch ?? BATCH.maxBatch, maxQueue: opts.maxQueue });
  }

  /** The session exists and can run: false before the first load, and after its backend's thread crashed until the next run re-creates it. */
  get loaded(): boolean {
    return this.created !== undefined && this.created.lost !== true;
  }

  /** Creates the session (once); later calls share the same promise. A failed load is retried next time. */
  load(): Promise<SessionLike> {
    this.session ??= this.createSession().catch((e) => {
      this.session = undefined;
      throw e;
    });
    return this.session;
  }

  /** sha256 of the ONNX file: the manifest's (no loading needed), or computed when the session is created. */
  async sha256(): Promise<string> {
    const listed = this.opts.info.variants[this.precision]?.[this.tower]?.sha256;
    if (listed) return listed;
    await this.load();
    return this.fileSha!;
  }

  /** Queues items for the next run; an aborted `signal` takes them out of the queue before they run. */
  run(items: readonly I[], signal?: AbortSignal): Promise<Float32Array[]> {
    return this.queue.push(items, signal);
  }

  get queueDepth(): number {
    return this.queue.depth;
  }

  /** Whether the session uses the ORT-format file in place (decided when the runner is made). */
  get inPlace(): boolean {
    const entry = this.opts.info.variants[this.precision]![this.tower]!;
    return this.opts.inPlace !== false && entry.ort !== undefined && this.opts.backend.inPlace !== undefined;
  }

  private async createSessionInPlace(): Promise<SessionLike> {
    const { source, info, tower, precision, backend } = this.opts;
    const entry = info.variants[precision]![tower]!.ort!;
    const where = `${source.name}/${entry.file}`;
    if (this.opts.requireIntegrity && !entry.sha256) {
      throw new ClipEdgeError('INTEGRITY_MISMATCH', `${where} has no sha256 in the manifest, and this deployment loads only verified files`);
    }
    let stream = await source.stream?.(entry.file);
    if (!stream) {
      const bytes = await source.read(entry.file);
      if (bytes) stream = { size: bytes.byteLength, body: [bytes] };
    }
    if (!stream) throw new ClipEdgeError('MODEL_NOT_FOUND', `${where} is missing`);
    const check = this.opts.verify !== false || this.opts.requireIntegrity;
    await backend.init();
    const session = await backend.inPlace!.createSession(stream, { where, ...(check ? { expected: { bytes: entry.bytes, sha256: entry.sha256 } } : {}) });
    this.fileSha = (session as { sha256?: string }).sha256;
    return session;
  }

  private async createSession(): Promise<SessionLike> {
    const { source, info, tower, precision, backend } = this.opts;
    const t0 = performance.now();
    const entry = info.variants[precision]![tower]!;
    if (this.inPlace) {
      const session = await this.createSessionInPlace();
      this.checkSignature(session, `${source.name}/${entry.ort!.file}`);
      this.loadMs = performance.now() - t0;
      this.created = session;
      return session;
    }
    const where = `${source.name}/${entry.file}`;
    const bytes = await source.read(entry.file);
    if (!bytes) throw new ClipEdgeError('MODEL_NOT_FOUND', `${where} is missing`);
    if (this.opts.requireIntegrity && !entry.sha256) {
      throw new ClipEdgeError('INTEGRITY_MISMATCH', `${where} has no sha256 in the manifest, and this deployment loads only verified files`);
    }
    if (this.opts.verify !== false || this.opts.requireIntegrity) await verifyBytes(bytes, { ...entry, file: where });
    if (!entry.sha256) this.fileSha = await sha256Hex(bytes);
    let session: SessionLike;
    try {
      await backend.init();
      session = await backend.createSession(bytes, { take: source.freshReads === true });
    } catch (cause) {
      if (isClipEdgeError(cause)) throw cause;
      const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
      throw new ClipEdgeError('MODEL_INVALID', `${where} could not be loaded by the ${backend.name} backend: ${reason}`, { cause });
    }
    this.checkSignature(session, where);
    this.loadMs = performance.now() - t0;
    this.created = session;
    return session;
  }

  private checkSignature(session: SessionLike, where: string): void {
    const io = TOWER_IO[this.tower];
    const missing = io.inputs.filter((n) => !session.inputNames.includes(n));
    const unknown = session.inputNames.filter(
      (n) => !(io.inputs as readonly string[]).includes(n) && !(io.optionalInputs as readonly string[]).includes(n),
    );
    if (missing.length || unknown.length || !session.outputNames.includes(io.output)) {
      throw new ClipEdgeError(
        'MODEL_INVALID',
        `${where} is not a CLIP ${this.tower} encoder: expected inputs [${[...io.inputs, ...io.optionalInputs].join(', ')}] and output ${io.output}, ` +
          `found inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}]`,
      );
    }
    const out = session.outputMetadata?.find((m) => m.name === io.output);
    const dim = out?.shape?.at(-1);
    if (typeof dim === 'number' && dim !== this.opts.info.embedDim) {
      throw new ClipEdgeError('MODEL_INVALID', `${where}: ${io.output} has ${dim} dims, the model's embedDim is ${this.opts.info.embedDim}`);
    }
  }

  /** The session, re-created from the source when the one loaded is lost (its backend's thread crashed). */
  private async liveSession(): Promise<SessionLike> {
    const loading = this.load();
    const session = await loading;
    if (!session.lost) return session;
    if (this.session === loading) this.session = undefined;
    return this.load();
  }

  private async runBatch(items: I[]): Promise<Float32Array[]> {
    const session = await this.liveSession();
    const { backend, info } = this.opts;
    const n = items.length;
    const feeds: Record<string, TensorLike> = {};
    if (this.tower === 'vision') {
      const per = (items[0] as Float32Array).length;
      const { cropHeight: h, cropWidth: w } = info.preprocess;
      const data = new Float32Array(n * per);
      (items as Float32Array[]).forEach((x, i) => data.set(x, i * per));
      feeds.pixel_values = backend.tensor('float32', data, [n, 3, h, w]);
    } else {
      const ctx = textRunLength(session, items as TextItem[]);
      const ids = new BigInt64Array(n * ctx);
      const mask = new BigInt64Array(n * ctx);
      (items as TextItem[]).forEach((t, i) => {
        ids.set(t.ids.subarray(0, ctx), i * ctx);
        mask.set(t.mask.subarray(0, ctx), i * ctx);
      });
      feeds.input_ids = backend.tensor('int64', ids, [n, ctx]);
      if (session.inputNames.includes('attention_mask')) feeds.attention_mask = backend.tensor('int64', mask, [n, ctx]);
    }
    const output = TOWER_IO[this.tower].output;
    const result = (await session.run(feeds, [output]))[output];
    const data = result?.data;
    if (!(data instanceof Float32Array) || result!.dims.length !== 2 || result!.dims[0] !== n) {
      throw new ClipEdgeError('MODEL_INVALID', `${this.file}: ${output} should be float32 [${n}, D], got ${result?.type} [${result?.dims.join(', ')}]`);
    }
    const dim = result!.dims[1]!;
    if (dim !== info.embedDim) {
      throw new ClipEdgeError('MODEL_INVALID', `${this.file}: ${output} has ${dim} dims, the model's embedDim is ${info.embedDim}`);
    }
    return Array.from({ length: n }, (_, i) => data.slice(i * dim, (i + 1) * dim));
  }
}

/** Whether the text graph's sequence axis is dynamic (a named or -1 dimension): it then runs on the prompts' real length. */
export function hasDynamicSequence(session: SessionLike): boolean {
  const dim = session.inputMetadata?.find((m) => m.name === 'input_ids')?.shape?.[1];
  return typeof dim === 'string' || dim === -1;
}

/**
 * Positions a text batch runs on: its longest prompt's (through its end-of-text token) when the
 * graph's sequence axis is dynamic, else the full context length (77). CLIP's text tower is causal and
 * pools at the end-of-text token, so positions after it cannot change the result.
 */
export function textRunLength(session: SessionLike, items: readonly TextItem[]): number {
  const full = items[0]!.ids.length;
  if (!hasDynamicSequence(session)) return full;
  let len = 1;
  for (const t of items) {
    for (let j = full - 1; j >= len; j--) {
      if (t.mask[j] !== 0n) {
        len = j + 1;
        break;
      }
    }
  }
  return len;
}
