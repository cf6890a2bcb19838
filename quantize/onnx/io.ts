import { createHash } from 'node:crypto';
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ClipEdgeError } from '../../src/core/errors.ts';
import { decodeModel, encodeModel, numel, type ModelProto, type TensorProto } from './model.ts';

/** protobuf's 2 GiB message limit: bigger models keep their tensors in an external data file. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

const entry = (t: TensorProto, key: string) => t.external_data.find((e) => e.key === key)?.value;

export interface OnnxSource {
  /** The .onnx file's bytes. */
  bytes: Uint8Array;
  /** External data files the model refers to (relative names), read once. */
  externalData: Map<string, Uint8Array>;
  /**
   * A fresh decoded copy (passes edit models in place); tensors in external data point into the
   * buffers above (views, not copies), so every copy looks like a single-file model.
   */
  decode(): ModelProto;
}

/** Reads an ONNX file and the external data files it refers to (models over 2 GB keep their tensors there). */
export async function readOnnx(file: string): Promise<OnnxSource> {
  const bytes = new Uint8Array(await readFile(file));
  const externalData = new Map<string, Uint8Array>();
  const first = decodeModel(bytes, file);
  for (const t of allTensors(first)) {
    if (t.data_location !== 1) continue;
    const location = entry(t, 'location');
    if (!location || path.isAbsolute(location) || location.split(/[\\/]/).includes('..')) {
      throw new ClipEdgeError('MODEL_INVALID', `${file}: tensor ${t.name} has an invalid external data location "${location ?? ''}"`);
    }
    if (!externalData.has(location)) {
      const data = await readFile(path.join(path.dirname(file), location)).catch((cause: unknown) => {
        throw new ClipEdgeError('MODEL_NOT_FOUND', `${file}: external data file ${location} cannot be read`, { cause });
      });
      externalData.set(location, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    }
  }
  const attach = (model: ModelProto): ModelProto => {
    for (const t of allTensors(model)) {
      if (t.data_location !== 1) continue;
      const data = externalData.get(entry(t, 'location')!)!;
      const offset = Number(entry(t, 'offset') ?? 0);
      const length = Number(entry(t, 'length') ?? data.byteLength - offset);
      if (!(offset >= 0 && length >= 0 && offset + length <= data.byteLength)) {
        throw new ClipEdgeError('MODEL_INVALID', `${file}: external data of ${t.name} lies outside ${entry(t, 'location')} (offset ${offset}, length ${length}, file ${data.byteLength} bytes)`);
      }
      t.raw_data = data.subarray(offset, offset + length);
      t.data_location = 0;
      t.external_data = [];
    }
    return model;
  };
  attach(first);
  let firstUsed = false;
  return {
    bytes,
    externalData,
    decode: () => {
      if (!firstUsed) {
        firstUsed = true;
        return first;
      }
      return attach(decodeModel(bytes, file));
    },
  };
}

/** Every TensorProto of the main graph that carries data (initializers and Constant values). */
function* allTensors(model: ModelProto): Generator<TensorProto> {
  const g = model.graph!;
  yield* g.initializer;
  for (const n of g.node) for (const a of n.attribute) if (a.t) yield a.t;
}

export interface WrittenFile {
  /** Final path. */
  file: string;
  bytes: number;
  sha256: string;
  /** The external data file, when the model needed one. */
  externalData?: { file: string; bytes: number; sha256: string };
}

/** Temporary files being written, removed if the process is interrupted (see `cleanUpOnSignal`). */
const inFlight = new Set<string>();

export const tempPathOf = (file: string): string => `${file}.${process.pid}.tmp`;

/** Marks a temporary file written by someone else (onnxruntime-node's ORT-format writer) for removal on SIGINT. */
export const trackInFlight = (tmp: string): void => void inFlight.add(tmp);

/**
 * Encodes a model into temporary files beside `file` and returns what `commit` will rename into
 * place. Initializers move to `<name>.onnx_data` when the message would pass protobuf's 2 GiB
 * limit (or when `externalData` is true); otherwise everything is one file.
 */
export async function stageOnnx(file: string, model: ModelProto, options: { externalData?: boolean } = {}): Promise<Staged> {
  const tensorBytes = model.graph!.initializer.reduce((a, t) => a + (t.raw_data?.byteLength ?? 0), 0);
  const external = options.externalData ?? tensorBytes > PROTOBUF_LIMIT - 64 * 2 ** 20;
  const staged: Staged = { file, temp: [], result: { file, bytes: 0, sha256: '' } };
  let toEncode = model;
  if (external) {
    const dataName = `${path.basename(file)}_data`;
    const dataFile = path.join(path.dirname(file), dataName);
    const tmp = tempPathOf(dataFile);
    inFlight.add(tmp);
    staged.temp.push([tmp, dataFile]);
    const h = await open(tmp, 'w');
    const hash = createHash('sha256');
    let offset = 0;
    const initializers: TensorProto[] = [];
    try {
      for (const t of model.graph!.initializer) {
        const raw = t.raw_data;
        if (!raw || raw.byteLength < 1024) {
          initializers.push(t);
          continue;
        }
        const pad = (4096 - (offset % 4096)) % 4096; // page-aligned, as onnx's writer does, so readers may map it
        if (pad) {
          const zeros = new Uint8Array(pad);
          await h.write(zeros);
          hash.update(zeros);
          offset += pad;
        }
        await h.write(raw);
        hash.update(raw);
        initializers.push({
          ...t,
          raw_data: undefined,
          data_location: 1,
          external_data: [
            { key: 'location', value: dataName },
            { key: 'offset', value: String(offset) },
            { key: 'length', value: String(raw.byteLength) },
          ],
        });
        offset += raw.byteLength;
      }
    } finally {
      await h.close();
    }
    staged.result.externalData = { file: dataFile, bytes: offset, sha256: hash.digest('hex') };
    toEncode = { ...model, graph: { ...model.graph!, initializer: initializers } };
  }
  const bytes = encodeModel(toEncode);
  const tmp = tempPathOf(file);
  inFlight.add(tmp);
  staged.temp.push([tmp, file]);
  await writeFile(tmp, bytes);
  staged.result.bytes = bytes.byteLength;
  staged.result.sha256 = createHash('sha256').update(bytes).digest('hex');
  staged.bytes = bytes;
  return staged;
}

export interface Staged {
  file: string;
  /** [temporary, final] pairs, data file first. */
  temp: [string, string][];
  result: WrittenFile;
  /** The encoded model (verification loads it without reading the file back). */
  bytes?: Uint8Array;
}

/** Renames staged files into place (the data file first, so a model never points at missing data). */
export async function commitStaged(staged: Staged): Promise<WrittenFile> {
  for (const [tmp, final] of staged.temp) {
    await rename(tmp, final);
    inFlight.delete(tmp);
  }
  return staged.result;
}

export async function discardStaged(staged: Staged): Promise<void> {
  await Promise.all(staged.temp.map(async ([tmp]) => {
    await rm(tmp, { force: true });
    inFlight.delete(tmp);
  }));
}

/** Writes a small file atomically (temporary file + rename). */
export async function writeAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPathOf(file);
  inFlight.add(tmp);
  try {
    await writeFile(tmp, data);
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    inFlight.delete(tmp);
  }
}

/** Removes every temporary file still being written; for SIGINT/SIGTERM handlers. */
export async function removeInFlight(): Promise<void> {
  await Promise.all([...inFlight].map((f) => rm(f, { force: true })));
  inFlight.clear();
}

export const sha256File = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex');

export const tensorCount = (model: ModelProto): number => model.graph!.initializer.reduce((a, t) => a + numel(t.dims), 0);
