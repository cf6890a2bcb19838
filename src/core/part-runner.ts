import type { Backend, SessionLike } from './backend.ts';
import { createBatchQueue } from './batch-queue.ts';
import { ClipEdgeError, isClipEdgeError } from './errors.ts';
import { verifyBytes } from './model/integrity.ts';
import type { ModelSource } from './model/source.ts';
import type { VisionPartEntry } from './vision-parts.ts';

export interface PartRunnerOptions {
  backend: Backend;
  source: ModelSource;
  part: VisionPartEntry;
  /** Load the part's `.ort` in place when listed and the backend can. @defaultValue true */
  inPlace?: boolean;
  /** Refuse a file the manifest lists without a sha256. @defaultValue true */
  requireIntegrity?: boolean;
  /** Told once the part is loaded, and how long it took (streamed, hashed, session made). @defaultValue nothing */
  onLoaded?: (line: string) => void;
}

export interface PartRunner {
  /** Creates the session (once; a failed load is retried by the next call). */
  load(): Promise<SessionLike>;
  /** Runs the part on one tensor; calls run one at a time. */
  run(data: Float32Array, dims: readonly number[]): Promise<{ data: Float32Array; dims: number[] }>;
  readonly inPlace: boolean;
}

/**
 * One part of a vision tower cut for several Workers: its `.ort` streamed into the backend's heap
 * and used in place (as the whole tower is), checked against the manifest's size and sha256, then
 * run on the activations handed in. Runs are serialised: one session, one thread.
 */
export function createPartRunner(o: PartRunnerOptions): PartRunner {
  const inPlace = o.inPlace !== false && o.part.ort !== undefined && o.backend.inPlace !== undefined;
  const file = inPlace ? o.part.ort! : o.part;
  const where = `${o.source.name}/${file.file}`;
  let session: Promise<SessionLike> | undefined;
  const create = async (): Promise<SessionLike> => {
    if (o.requireIntegrity !== false && !file.sha256) throw new ClipEdgeError('INTEGRITY_MISMATCH', `${where} has no sha256 in the manifest, and parts load only verified files`);
    await o.backend.init();
    try {
      if (inPlace) {
        const stream = (await o.source.stream?.(file.file)) ?? (await o.source.read(file.file).then((b) => b && { size: b.byteLength, body: [b] }));
        if (!stream) throw new ClipEdgeError('MODEL_NOT_FOUND', `${where} is missing`);
        return await o.backend.inPlace!.createSession(stream, { where, expected: { bytes: file.bytes, sha256: file.sha256 } });
      }
      const bytes = await o.source.read(file.file);
      if (!bytes) throw new ClipEdgeError('MODEL_NOT_FOUND', `${where} is missing`);
      await verifyBytes(bytes, { ...file, file: where });
      return await o.backend.createSession(bytes, { take: o.source.freshReads === true });
    } catch (cause) {
      if (isClipEdgeError(cause)) throw cause;
      throw new ClipEdgeError('MODEL_INVALID', `${where} could not be loaded by the ${o.backend.name} backend: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, { cause });
    }
  };
  const load = () => {
    const t0 = Date.now();
    return (session ??= create().then(
      (s) => {
        if (!s.inputNames.includes(o.part.input) || !s.outputNames.includes(o.part.output)) {
          throw new ClipEdgeError('MODEL_INVALID', `${where} takes [${s.inputNames.join(', ')}] and gives [${s.outputNames.join(', ')}]; the manifest says ${o.part.input} → ${o.part.output}`);
        }
        o.onLoaded?.(`loaded ${where}${inPlace ? ' in place' : ''} in ${Date.now() - t0} ms`);
        return s;
      },
    ).catch((e: unknown) => {
      session = undefined;
      throw e;
    }));
  };
  type Item = { data: Float32Array; dims: readonly number[] };
  const queue = createBatchQueue<Item, { data: Float32Array; dims: number[] }>(
    async ([item]) => {
      let s = await load();
      if (s.lost) {
        session = undefined; // its backend's thread crashed: created again from the source
        s = await load();
      }
      const out = (await s.run({ [o.part.input]: o.backend.tensor('float32', item!.data, item!.dims) }, [o.part.output]))[o.part.output];
      if (!(out?.data instanceof Float32Array)) throw new ClipEdgeError('MODEL_INVALID', `${where}: ${o.part.output} is not float32`);
      // ORT's outputs are fresh arrays (copied out of its heap): kept as they are. A view into a larger
      // buffer (a backend that hands out its own memory, which the next run may reuse) is copied.
      const owned = out.data.byteOffset === 0 && out.data.byteLength === out.data.buffer.byteLength;
      return [{ data: owned ? out.data : out.data.slice(), dims: [...out.dims] }];
    },
    { maxBatch: 1 },
  );
  return {
    load,
    run: async (data, dims) => (await queue.push([{ data, dims }]))[0]!,
    inPlace,
  };
}
