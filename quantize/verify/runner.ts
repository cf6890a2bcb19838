import type * as Ort from 'onnxruntime-web';
import { ClipEdgeError } from '../../src/core/errors.ts';
import type { Tower } from '../../src/core/precision.ts';
import type { TokenizedBatch } from '../../src/core/tokenizer.ts';
import { normalizeRows } from '../../src/core/zeroshot.ts';
import type { OrtModule } from '../../src/core/backend.ts';
import { createInPlaceLoader, type InPlaceLoader } from '../../src/core/ort/wasm/in-place.ts';
import { withWrappedOrtInstance } from '../../src/core/ort/wasm/instance.ts';

/**
 * Runs a tower with onnxruntime-web's WASM build on one thread, as the kit's WASM backend does —
 * the place a variant must work and the numbers that matter at the edge.
 */
let ortReady: Promise<typeof Ort> | undefined;
export const loadOrt = (): Promise<typeof Ort> =>
  (ortReady ??= (async () => {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    ort.env.logLevel = 'error';
    // Started through the instantiate shim so that ORT-format variants can be checked in place, as Workers load them.
    await withWrappedOrtInstance(() => ort.InferenceSession.create(new Uint8Array(0)).then((s) => s.release(), () => undefined));
    return ort;
  })());

let inPlace: Promise<InPlaceLoader> | undefined;
/** The in-place loader (src/core/ort-wasm) over the same onnxruntime-web. */
export const inPlaceLoader = (): Promise<InPlaceLoader> => (inPlace ??= loadOrt().then((ort) => createInPlaceLoader(ort as unknown as OrtModule)));

export interface ModelBytes {
  bytes: Uint8Array;
  /** An ORT-format model to load in place (weights used from the streamed bytes), as the Workers backend does. */
  inPlace?: boolean;
  /** External data files, when the model has them: names as the model refers to them, and their bytes. */
  externalData?: { path: string; data: Uint8Array }[];
}

export interface TowerSession {
  embed(): Promise<Float32Array>;
  /** Median milliseconds of one batch-1 run (after a warm-up run). */
  latency(runs: number): Promise<number>;
  release(): Promise<void>;
}

export type TowerInputs =
  | { tower: 'vision'; pixels: readonly Float32Array[]; height: number; width: number }
  | { tower: 'text'; tokens: TokenizedBatch };

const OUTPUT: Record<Tower, string> = { vision: 'image_embeds', text: 'text_embeds' };

/** Opens a session; a model onnxruntime-web refuses is MODEL_INVALID with its first line of reason. */
export async function openTower(model: ModelBytes, inputs: TowerInputs, where: string, batch = 16): Promise<TowerSession> {
  const ort = await loadOrt();
  let session: Ort.InferenceSession;
  try {
    session = model.inPlace
      ? ((await (await inPlaceLoader()).createSession({ size: model.bytes.byteLength, body: [model.bytes] }, { where })) as unknown as Ort.InferenceSession)
      : await ort.InferenceSession.create(model.bytes, model.externalData?.length ? { externalData: model.externalData } : {});
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new ClipEdgeError('MODEL_INVALID', `${where} does not load in onnxruntime-web (WASM): ${why}`, { cause });
  }
  const count = inputs.tower === 'vision' ? inputs.pixels.length : inputs.tokens.batch;
  const feedsOf = (start: number, n: number): Record<string, Ort.Tensor> => {
    if (inputs.tower === 'vision') {
      const per = 3 * inputs.height * inputs.width;
      const data = new Float32Array(n * per);
      for (let i = 0; i < n; i++) data.set(inputs.pixels[start + i]!, i * per);
      return { pixel_values: new ort.Tensor('float32', data, [n, 3, inputs.height, inputs.width]) };
    }
    const ctx = inputs.tokens.contextLength;
    const feeds: Record<string, Ort.Tensor> = {
      input_ids: new ort.Tensor('int64', inputs.tokens.inputIds.slice(start * ctx, (start + n) * ctx), [n, ctx]),
    };
    if (session.inputNames.includes('attention_mask')) {
      feeds.attention_mask = new ort.Tensor('int64', inputs.tokens.attentionMask.slice(start * ctx, (start + n) * ctx), [n, ctx]);
    }
    return feeds;
  };
  const run = async (start: number, n: number): Promise<Float32Array> => {
    try {
      const out = (await session.run(feedsOf(start, n), [OUTPUT[inputs.tower]]))[OUTPUT[inputs.tower]];
      if (!(out?.data instanceof Float32Array)) throw new Error(`${OUTPUT[inputs.tower]} is not float32`);
      return out.data;
    } catch (cause) {
      const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
      throw new ClipEdgeError('MODEL_INVALID', `${where} failed to run in onnxruntime-web (WASM): ${why}`, { cause });
    }
  };
  return {
    async embed() {
      const parts: Float32Array[] = [];
      for (let i = 0; i < count; i += batch) parts.push(await run(i, Math.min(batch, count - i)));
      const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
      let o = 0;
      for (const p of parts) {
        all.set(p, o);
        o += p.length;
      }
      return normalizeRows(all, all.length / count);
    },
    async latency(runs) {
      await run(0, 1);
      const ms: number[] = [];
      for (let r = 0; r < runs; r++) {
        const t0 = performance.now();
        await run(0, 1);
        ms.push(performance.now() - t0);
      }
      return median(ms);
    },
    release: () => session.release(),
  };
}

/** Creates (and releases) a session: the model loads in onnxruntime-web, or MODEL_INVALID says why not. */
export async function checkLoads(bytes: Uint8Array, where: string): Promise<void> {
  const ort = await loadOrt();
  try {
    await (await ort.InferenceSession.create(bytes)).release();
  } catch (cause) {
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new ClipEdgeError('MODEL_INVALID', `${where} does not load in onnxruntime-web (WASM): ${why}`, { cause });
  }
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
