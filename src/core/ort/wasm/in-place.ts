import type { OrtModule, SessionLike } from '../../backend.ts';
import { ClipEdgeError } from '../../errors.ts';
import type { ModelStream } from '../../model/source.ts';
import { type ExportCall, type OrtWasmInstance, wrappedInstances } from './instance.ts';
import { type Sha256Stream, defaultSha256Stream } from './sha256.ts';

/**
 * Sessions whose weights are used in place: an ORT-format model streamed straight into a block of
 * onnxruntime-web's wasm heap (hashed while it streams), handed to ORT as a view of its own memory
 * (ORT then skips its copy) with `session.use_ort_model_bytes_directly` and
 * `session.use_ort_model_bytes_for_initializers`, and kept alive exactly as long as the session.
 * The model is in memory once (~1.0× the file) instead of the file, a JS copy and ORT's copies
 * of every initializer (~2.2×).
 *
 * Relies on three behaviours of onnxruntime-web (1.30), each checked at run time so that a release
 * that changes one fails here, loudly, instead of corrupting outputs:
 * 1. `createSession` copies a model given as bytes with `_malloc(n)` + `HEAPU8.set` — this is how
 *    `malloc` and `free` are found among the minified exports (calibrate()).
 * 2. A `Uint8Array` whose buffer is ORT's wasm memory is passed to `OrtCreateSession` as is
 *    (checked on every session: the native call must receive this block's address and length).
 * 3. `createSession` frees that block in its `finally` (microsoft/onnxruntime#19491) although the
 *    session's initializers point into it: the guarded `free` ignores it while the session lives.
 */

export type { ModelStream };

/** Session options that make ORT use the model bytes in place (ORT-format models only). */
export const IN_PLACE_SESSION_CONFIG = Object.freeze({
  'session.use_ort_model_bytes_directly': '1',
  'session.use_ort_model_bytes_for_initializers': '1',
  // Pre-packing copies weights into a second layout: that copy is exactly what in place avoids. It
  // costs int8 variants no speed: the WASM build's int8 GEMM has no packed form (bench/results/prepack.md).
  'session.disable_prepacking': '1',
});

/** Calibration probe: an invalid model of an unusual length filled with a recognisable pattern. */
const PROBE_LENGTH = 4099;
const probeByte = (i: number) => (i * 31 + 7) & 0xff;

interface Calibration {
  readonly instance: OrtWasmInstance;
  readonly malloc: (size: number) => number;
  readonly free: (ptr: number) => void;
  readonly mallocName: string;
  readonly freeName: string;
}

/**
 * An export's integer argument or result as a JS number. wasm32 hands i32 values to JS signed, but
 * ORT's pointers and sizes are unsigned: a block above 2 GiB (a heap grown by a large model's run)
 * came back negative and was taken for a failed malloc. So negative integers are read as unsigned.
 */
export const asNumber = (v: unknown): number | undefined =>
  typeof v === 'number' ? (Number.isInteger(v) && v < 0 ? v >>> 0 : v) : typeof v === 'bigint' ? Number(v) : undefined;

const changed = (what: string) =>
  new ClipEdgeError(
    'BACKEND_UNAVAILABLE',
    `in-place model loading is unavailable: this onnxruntime-web ${what}. It relies on onnxruntime-web 1.30's createSession ` +
      '(src/core/ort/wasm/in-place.ts); load the .onnx variant instead (CLIP_EDGE_IN_PLACE=false) or pin onnxruntime-web 1.30',
    // Retrying gets the same answer: the HTTP answer carries no Retry-After.
    { details: { permanent: true } },
  );

/** Finds ORT's malloc and free by watching a probe session being created (behaviour 1 above). */
async function calibrate(ort: OrtModule): Promise<Calibration> {
  const candidates = wrappedInstances();
  if (!candidates.length) throw changed('was not started through the kit\'s instantiate shim (withWrappedOrtInstance)');
  const calls: { inst: OrtWasmInstance; call: ExportCall; snapshotOk?: boolean }[] = [];
  let pendingBlock: { inst: OrtWasmInstance; ptr: number } | undefined;
  for (const inst of candidates) {
    inst.recorder = (call) => {
      const entry: (typeof calls)[number] = { inst, call };
      // The first call after malloc(PROBE_LENGTH): by then ORT has copied the probe into the block.
      if (pendingBlock && pendingBlock.inst === inst) {
        const view = new Uint8Array(inst.memory.buffer, pendingBlock.ptr, PROBE_LENGTH);
        entry.snapshotOk = view.every((b, i) => b === probeByte(i));
        pendingBlock = undefined;
      }
      const n = call.args.length === 1 ? asNumber(call.args[0]) : undefined;
      const r = asNumber(call.result);
      if (n === PROBE_LENGTH && r !== undefined && r > 0) pendingBlock = { inst, ptr: r };
      calls.push(entry);
    };
  }
  try {
    await ort.InferenceSession.create(Uint8Array.from({ length: PROBE_LENGTH }, (_, i) => probeByte(i)));
  } catch {
    // expected: the probe is not a model
  } finally {
    for (const inst of candidates) inst.recorder = undefined;
  }
  const mallocs = calls.filter(({ call }) => call.args.length === 1 && asNumber(call.args[0]) === PROBE_LENGTH && (asNumber(call.result) ?? 0) > 0);
  if (mallocs.length !== 1) throw changed(`allocated the model ${mallocs.length} times (expected once with malloc)`);
  const m = mallocs[0]!;
  const ptr = asNumber(m.call.result)!;
  const after = calls.slice(calls.indexOf(m) + 1).filter((c) => c.inst === m.inst);
  if (after[0]?.snapshotOk !== true) throw changed('did not copy the model into the block its malloc returned');
  const frees = after.filter(({ call }) => call.args.length === 1 && asNumber(call.args[0]) === ptr && call.name !== m.call.name);
  if (frees.length !== 1) throw changed(`freed the model block ${frees.length} times (expected once, in createSession's finally)`);
  const mallocName = m.call.name;
  const freeName = frees[0]!.call.name;
  const realMalloc = m.inst.real(mallocName)!;
  const realFree = m.inst.real(freeName)!;
  const isBig = typeof m.call.args[0] === 'bigint';
  return {
    instance: m.inst,
    mallocName,
    freeName,
    malloc: (size) => asNumber(realMalloc(isBig ? BigInt(size) : size)) ?? 0,
    free: (p) => void realFree(isBig ? BigInt(p) : p),
  };
}

/** What happened to a block while ORT created its session. */
interface Block {
  readonly ptr: number;
  readonly size: number;
  /** Times ORT called free on it while it was held (1 with 1.30's createSession; 0 once the upstream fix lands). */
  ortFrees: number;
}

export interface InPlaceSession extends SessionLike {
  /** Bytes of ORT's heap this session's model block holds. */
  readonly modelBytes: number;
  /** sha256 (hex) of the streamed bytes. */
  readonly sha256: string;
  release(): Promise<void>;
}

export interface InPlaceOptions {
  /** Expected size and sha256 (hex) of the model (from the manifest); a mismatch frees the block and throws INTEGRITY_MISMATCH. */
  expected?: { bytes?: number; sha256?: string };
  /** Names the file in messages. */
  where: string;
  /** Passed to `InferenceSession.create`, with the in-place config entries added. */
  sessionOptions?: object;
  /**
   * Room left free in ORT's heap beside the model for the session's own allocations. The heap is
   * grown once to model + headroom before the model block is taken: otherwise the session's first
   * allocations past the end grow it by Emscripten's geometric step (+20 %: 112 MiB instead of
   * ~100 MiB for ViT-B/32 int8). Measured: ViT-B/32 int8 created its session and ran batch 1 within
   * 6 MiB. @defaultValue 8 % of the model, at least 2 MiB
   */
  headroomBytes?: number;
  /** Incremental sha256 (the runtime's native one when it has it). @defaultValue @noble/hashes */
  sha256?: () => Sha256Stream;
}

export interface InPlaceLoader {
  /** Streams the model into ORT's heap, checks it, and creates a session over it in place. */
  createSession(model: ModelStream, options: InPlaceOptions): Promise<InPlaceSession>;
  /** ORT's wasm memory in bytes (it never shrinks). */
  wasmMemoryBytes(): number;
  /** The export names found for malloc and free (for diagnostics and tests). */
  readonly exportNames: { malloc: string; free: string };
}

/** A model stream's chunks, whichever form its body has (a Workers ReadableStream is not async-iterable). */
export async function* chunksOf(body: ModelStream['body']): AsyncGenerator<Uint8Array> {
  if (!('getReader' in body)) {
    for await (const chunk of body) yield chunk;
    return;
  }
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Writes the stream into the block, hashing as it goes; returns the hex sha256. Throws on a size mismatch. */
async function fill(cal: Calibration, block: Block, model: ModelStream, o: InPlaceOptions): Promise<string> {
  const hash = (o.sha256 ?? defaultSha256Stream)();
  let off = 0;
  let more = false;
  for await (const chunk of chunksOf(model.body)) {
    if (off + chunk.byteLength > block.size) {
      more = true;
      break;
    }
    // ORT's memory may have grown since the last chunk: take a fresh view each time.
    new Uint8Array(cal.instance.memory.buffer, block.ptr + off, chunk.byteLength).set(chunk);
    await hash.update(chunk);
    off += chunk.byteLength;
  }
  if (more || off !== block.size) {
    throw new ClipEdgeError('INTEGRITY_MISMATCH', `${o.where}: the stream had ${more ? `more than ${block.size}` : off} bytes, expected ${block.size}: truncated or not the file the manifest describes`);
  }
  return hash.digest();
}

function withConfig(options: object | undefined): object {
  const o = (options ?? {}) as { extra?: { session?: Record<string, string> } & Record<string, unknown> };
  const session: Record<string, string> = { ...o.extra?.session };
  for (const [k, v] of Object.entries(IN_PLACE_SESSION_CONFIG)) session[k.slice('session.'.length)] = v;
  return { ...o, extra: { ...o.extra, session } };
}

const loaders = new WeakMap<object, Promise<InPlaceLoader>>();

/**
 * The in-place loader of an ORT module whose wasm was started inside `withWrappedOrtInstance`: one
 * per module (ORT has one wasm instance per realm, and one guard must see every block).
 * Calibrates once (one probe session) and guards `free` from then on.
 */
export function createInPlaceLoader(ort: OrtModule): Promise<InPlaceLoader> {
  let p = loaders.get(ort);
  if (!p) {
    p = makeLoader(ort);
    loaders.set(ort, p);
    p.catch(() => loaders.delete(ort));
  }
  return p;
}

async function makeLoader(ort: OrtModule): Promise<InPlaceLoader> {
  const cal = await calibrate(ort);
  const held = new Map<number, Block>();
  cal.instance.overrides.set(cal.freeName, (real, args) => {
    const block = held.get(asNumber(args[0]) ?? -1);
    if (block) {
      block.ortFrees++;
      return undefined; // the session still points into it (behaviour 3)
    }
    return real(...args);
  });
  let queue: Promise<unknown> = Promise.resolve();

  const create = async (model: ModelStream, o: InPlaceOptions): Promise<InPlaceSession> => {
    const size = model.size;
    if (o.expected?.bytes !== undefined && o.expected.bytes !== size) {
      throw new ClipEdgeError('INTEGRITY_MISMATCH', `${o.where} has ${size} bytes, the manifest says ${o.expected.bytes}: refusing to load it`);
    }
    const headroom = o.headroomBytes ?? Math.max(2 * 2 ** 20, Math.ceil(size * 0.08));
    const reserve = cal.malloc(size + headroom); // grows the heap in one step, exactly to what is asked
    if (reserve) cal.free(reserve);
    const ptr = cal.malloc(size);
    if (!ptr) throw new ClipEdgeError('MODEL_INVALID', `${o.where}: onnxruntime-web could not allocate ${size} bytes for the model (wasm memory full)`);
    const block: Block = { ptr, size, ortFrees: 0 };
    held.set(ptr, block);
    let session: SessionLike | undefined;
    let sha256 = '';
    try {
      sha256 = await fill(cal, block, model, o);
      if (o.expected?.sha256 !== undefined && sha256 !== o.expected.sha256) {
        throw new ClipEdgeError('INTEGRITY_MISMATCH', `${o.where} has sha256 ${sha256}, the manifest says ${o.expected.sha256}: refusing to load it`);
      }
      // Behaviour 2: the native create must receive this very block, not a copy.
      let passedInPlace = false;
      cal.instance.recorder = ({ args }) => {
        if (args.length >= 2 && asNumber(args[0]) === ptr && asNumber(args[1]) === size) passedInPlace = true;
      };
      try {
        session = await ort.InferenceSession.create(new Uint8Array(cal.instance.memory.buffer, ptr, size), withConfig(o.sessionOptions));
      } finally {
        cal.instance.recorder = undefined;
      }
      if (!passedInPlace) throw changed('copied the model instead of using the bytes in its own memory');
      if (block.ortFrees > 1) throw changed(`freed the model block ${block.ortFrees} times while creating the session`);
    } catch (e) {
      await session?.release?.();
      held.delete(ptr);
      cal.free(ptr);
      if (e instanceof ClipEdgeError) throw e;
      const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
      throw new ClipEdgeError('MODEL_INVALID', `${o.where} could not be loaded in place: ${reason}`, { cause: e });
    }
    return inPlaceSession(session, block, held, cal, sha256);
  };

  return {
    // One at a time: the recorder that checks behaviour 2 watches one creation.
    createSession: (model, o) => {
      const next = queue.then(() => create(model, o));
      queue = next.catch(() => undefined);
      return next;
    },
    wasmMemoryBytes: () => cal.instance.memory.buffer.byteLength,
    exportNames: { malloc: cal.mallocName, free: cal.freeName },
  };
}

function inPlaceSession(session: SessionLike, block: Block, held: Map<number, Block>, cal: Calibration, sha256: string): InPlaceSession {
  let released = false;
  return {
    get inputNames() {
      return session.inputNames;
    },
    get outputNames() {
      return session.outputNames;
    },
    get inputMetadata() {
      return session.inputMetadata;
    },
    get outputMetadata() {
      return session.outputMetadata;
    },
    modelBytes: block.size,
    sha256,
    run: (feeds, fetches) => {
      if (released) throw new ClipEdgeError('INTERNAL', 'session used after release()');
      return session.run(feeds, fetches);
    },
    async release() {
      if (released) return;
      released = true;
      await session.release?.();
      // Freed only now: ORT's own free of it (during create, or at release once fixed upstream) was held back.
      held.delete(block.ptr);
      cal.free(block.ptr);
    },
  };
}
