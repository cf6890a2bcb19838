import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { readFile, rm } from 'node:fs/promises';
import { ClipEdgeError } from '../src/core/errors.ts';
import { tempPathOf, trackInFlight, type Staged } from './onnx/io.ts';

/**
 * The ORT-format form of a variant (`onnx/vision_model_int8.ort`): the one format whose weights
 * onnxruntime can use straight from the model bytes (`session.use_ort_model_bytes_for_initializers`),
 * which is what lets ViT-B/32's int8 vision tower run in a 128 MB Workers isolate.
 *
 * Written by onnxruntime-node at build time (its converter is C++; nothing in JS writes ORT's
 * flatbuffer format); the runtime never needs onnxruntime-node. Graph optimizations are applied at
 * the `basic` level only: those are the portable ones (constant folding, redundant-node removal);
 * higher levels may add CPU-EP-specific fused kernels that ORT-web's WASM build lacks.
 */

interface OrtNode {
  InferenceSession: { create(path: string, options: object): Promise<{ release(): Promise<void> }> };
}

async function ortNode(): Promise<OrtNode> {
  try {
    createRequire(import.meta.url).resolve('onnxruntime-node');
  } catch {
    throw new ClipEdgeError(
      'BACKEND_UNAVAILABLE',
      'writing ORT-format (in-place) variants needs onnxruntime-node at build time: npm i -D onnxruntime-node --ignore-scripts',
    );
  }
  const m = (await import('onnxruntime-node' as string)) as OrtNode & { default?: OrtNode };
  return m.InferenceSession ? m : m.default!;
}

/** Converts `onnxFile` into a staged ORT-format file for `outFile` (renamed into place by commitStaged). */
export async function stageOrtFormat(onnxFile: string, outFile: string): Promise<Staged & { bytes: Uint8Array }> {
  const ort = await ortNode();
  const tmp = tempPathOf(outFile);
  trackInFlight(tmp);
  try {
    const session = await ort.InferenceSession.create(onnxFile, {
      graphOptimizationLevel: 'basic',
      optimizedModelFilePath: tmp,
      executionProviders: ['cpu'],
      logSeverityLevel: 3,
      extra: { session: { save_model_format: 'ORT' } },
    });
    await session.release();
  } catch (cause) {
    await rm(tmp, { force: true });
    if (cause instanceof ClipEdgeError) throw cause;
    const why = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new ClipEdgeError('MODEL_INVALID', `${onnxFile} could not be converted to ORT format by onnxruntime-node: ${why}`, { cause });
  }
  const bytes = new Uint8Array(await readFile(tmp));
  // ORT-format files carry the "ORTM" identifier at byte 4 (flatbuffers file_identifier).
  if (new TextDecoder().decode(bytes.subarray(4, 8)) !== 'ORTM') {
    await rm(tmp, { force: true });
    throw new ClipEdgeError('INTERNAL', `${outFile}: onnxruntime-node did not write an ORT-format file`);
  }
  return {
    file: outFile,
    temp: [[tmp, outFile]],
    result: { file: outFile, bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') },
    bytes,
  };
}
