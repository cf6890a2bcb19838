import type * as Ort from 'onnxruntime-web';
import { ClipEdgeError } from '../../src/core/errors.ts';
import { inPlaceLoader, loadOrt, median } from '../verify/runner.ts';

/** How the chained parts compare with the whole tower, run as Workers run them (onnxruntime-web WASM, ORT format in place). */
export interface ChainCheck {
  /** Inputs compared (deterministic pseudo-random pixels of the tower's input size). */
  n: number;
  /** Cosine of the chained output to the whole tower's, lowest over the inputs. */
  cosineMin: number;
  /** Largest absolute difference of any output value. */
  maxAbsDiff: number;
  /** Every output value equal, bit for bit. */
  bitEqual: boolean;
  /** Median ms of one batch-1 run: the whole tower, and the parts one after another. */
  latencyMs: { whole: number; chained: number };
}

interface Loaded {
  session: Ort.InferenceSession;
  input: string;
  output: string;
}

async function open(bytes: Uint8Array, ort: boolean, where: string): Promise<Ort.InferenceSession> {
  try {
    if (ort) return (await (await inPlaceLoader()).createSession({ size: bytes.byteLength, body: [bytes] }, { where })) as unknown as Ort.InferenceSession;
    return await (await loadOrt()).InferenceSession.create(bytes);
  } catch (cause) {
    if (cause instanceof ClipEdgeError) throw cause;
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new ClipEdgeError('MODEL_INVALID', `${where} does not load in onnxruntime-web (WASM): ${why}`, { cause });
  }
}

/** Deterministic pixels in CLIP's normalised range (about −2…2), so that a rerun checks the same inputs. */
function pixels(seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 4 - 2;
  }
  return out;
}

async function run(ort: typeof Ort, s: Loaded, x: Ort.Tensor): Promise<Ort.Tensor> {
  const out = (await s.session.run({ [s.input]: x }, [s.output]))[s.output];
  if (!out || out.type !== 'float32') throw new ClipEdgeError('MODEL_INVALID', `${s.output} is not float32`);
  return new ort.Tensor('float32', out.data as Float32Array, out.dims);
}

function compare(a: Float32Array, b: Float32Array): { cosine: number; maxAbs: number; equal: boolean } {
  let dot = 0;
  let na = 0;
  let nb = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
    maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
  }
  return { cosine: dot / Math.sqrt(na * nb), maxAbs, equal: a.length === b.length && maxAbs === 0 };
}

/**
 * Runs the whole tower and its parts chained (each part's output is the next one's input) on
 * `n` inputs of shape `[1, 3, size, size]` and compares the outputs.
 */
export async function checkChain(
  whole: { bytes: Uint8Array; ort: boolean; where: string },
  parts: readonly { bytes: Uint8Array; input: string; output: string; where: string }[],
  o: { height: number; width: number; n?: number; runs?: number },
): Promise<ChainCheck> {
  const ort = await loadOrt();
  const n = o.n ?? 4;
  const wholeS: Loaded = { session: await open(whole.bytes, whole.ort, whole.where), input: 'pixel_values', output: 'image_embeds' };
  const chain: Loaded[] = [];
  try {
    for (const p of parts) chain.push({ session: await open(p.bytes, true, p.where), input: p.input, output: p.output });
    const dims = [1, 3, o.height, o.width];
    const runChain = async (x: Ort.Tensor) => {
      for (const s of chain) x = await run(ort, s, x);
      return x;
    };
    let cosineMin = 1;
    let maxAbsDiff = 0;
    let bitEqual = true;
    for (let k = 0; k < n; k++) {
      const x = new ort.Tensor('float32', pixels(k + 1, 3 * o.height * o.width), dims);
      const a = (await run(ort, wholeS, x)).data as Float32Array;
      const b = (await runChain(x)).data as Float32Array;
      const c = compare(a, b);
      cosineMin = Math.min(cosineMin, c.cosine);
      maxAbsDiff = Math.max(maxAbsDiff, c.maxAbs);
      bitEqual &&= c.equal;
    }
    const time = async (f: () => Promise<unknown>) => {
      const ms: number[] = [];
      for (let r = 0; r < (o.runs ?? 3); r++) {
        const t0 = performance.now();
        await f();
        ms.push(performance.now() - t0);
      }
      return median(ms);
    };
    const x = new ort.Tensor('float32', pixels(99, 3 * o.height * o.width), dims);
    const latencyMs = { whole: await time(() => run(ort, wholeS, x)), chained: await time(() => runChain(x)) };
    return { n, cosineMin, maxAbsDiff, bitEqual, latencyMs };
  } finally {
    await wholeS.session.release();
    for (const s of chain) await s.session.release();
  }
}
