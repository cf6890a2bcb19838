import { ClipEdgeError } from '../../core/errors.ts';
import { DEFAULT_LIMITS } from '../../core/limits.ts';
import { readModelInfo } from '../../core/model/info.ts';
import type { TextService, TextServiceReply, TextServiceRequest } from '../../core/remote-text.ts';
import { createTextEmbedder } from '../../core/text-embedder.ts';
import { type TextItem, TowerRunner } from '../../core/tower.ts';
import type { WorkersEnv } from './bindings.ts';
import { workersConfig } from './config.ts';
import { modelSourceOf } from './model-source.ts';
import { manifestSha256 } from './model-source.ts';
import { type EnvRecord, envInt } from '../../http/env.ts';
import { workersWasmBackend } from './ort.ts';
import { workersTextEntry } from './variants.ts';

/** CLIP_EDGE_TEXT_RUN_BATCH: prompts per text-tower run in the text Worker. @defaultValue 8 */
export function runBatchOf(env: WorkersEnv): number {
  return envInt(env as unknown as EnvRecord, 'CLIP_EDGE_TEXT_RUN_BATCH', 1, 64) ?? TEXT_SERVICE_RUN_BATCH;
}

/** Prompts per text-tower run (see runBatchOf). */
export const TEXT_SERVICE_RUN_BATCH = 8;

/** Texts one call may carry: the vision Worker sends 64 (the batch the text Worker's memory is measured with). */
export const TEXT_SERVICE_MAX_TEXTS = 256;
/** UTF-8 bytes of texts one call may carry. */
export const TEXT_SERVICE_MAX_BYTES = 1024 * 1024;

/** What the text Worker serves: its manifest's and text encoder's sha256 (what callers must send), the variant, and whether it is loaded in place. */
export interface TextServiceInfo {
  manifestSha256: string;
  textSha256: string;
  variant: string;
  inPlace: boolean;
}

function checkCall(texts: unknown, maxTextLength: number): asserts texts is string[] {
  if (!Array.isArray(texts) || texts.length === 0 || texts.length > TEXT_SERVICE_MAX_TEXTS) {
    throw new ClipEdgeError('BAD_INPUT', `embedTexts takes 1 to ${TEXT_SERVICE_MAX_TEXTS} texts`);
  }
  let bytes = 0;
  for (const t of texts) {
    if (typeof t !== 'string' || t.length > maxTextLength) throw new ClipEdgeError('BAD_INPUT', `embedTexts takes strings of at most ${maxTextLength} characters`);
    bytes += t.length * 3;
  }
  if (bytes > TEXT_SERVICE_MAX_BYTES * 3) throw new ClipEdgeError('BAD_INPUT', `embedTexts takes at most ${TEXT_SERVICE_MAX_BYTES} bytes of text per call`);
}

/**
 * The text Worker's work: the model folder's text tower (its int8 `.ort` in place when the manifest
 * lists one, streamed from R2 and hashed as the vision tower is) and tokenizer, loaded once per
 * isolate. A caller that serves another manifest or expects another text encoder is refused.
 */
export async function createTextService(env: WorkersEnv): Promise<TextService & { info: () => Promise<TextServiceInfo> }> {
  const cfg = workersConfig(env);
  const source = modelSourceOf(env, cfg);
  const [info, manifest] = await Promise.all([readModelInfo(source), manifestSha256(source)]);
  const expected = workersTextEntry(info, cfg.textVariant);
  const runner = new TowerRunner<TextItem>({
    backend: workersWasmBackend(),
    source,
    info,
    tower: 'text',
    precision: expected.precision,
    requireIntegrity: true,
    inPlace: cfg.inPlace,
    // Prompts per text-tower run: a call's 64 prompts run a few at a time, because the activations of
    // one run stay in ORT's wasm memory for good (it never shrinks). 64 at once took ViT-B/32's int8
    // text Worker to 243 MiB (bench/results/workers-memory-text.md).
    maxBatch: runBatchOf(env),
  });
  const text = await createTextEmbedder(source, info, runner);
  const maxTextLength = cfg.limits?.maxTextLength ?? DEFAULT_LIMITS.maxTextLength;
  return {
    info: async () => ({ manifestSha256: manifest, textSha256: expected.sha256, variant: expected.precision, inPlace: runner.inPlace }),
    async embedTexts(texts: string[], req: TextServiceRequest): Promise<TextServiceReply> {
      checkCall(texts, maxTextLength);
      if (req?.manifestSha256 !== manifest || req.textSha256 !== expected.sha256) {
        return {
          ok: false,
          code: 'MODEL_MISMATCH',
          manifestSha256: manifest,
          message: `this text Worker serves ${info.id} (manifest sha256 ${manifest.slice(0, 12)}…, ${expected.file} sha256 ${expected.sha256.slice(0, 12)}…); the caller asked for manifest ${String(req?.manifestSha256).slice(0, 12)}…, text encoder ${String(req?.textSha256).slice(0, 12)}…`,
        };
      }
      const t0 = performance.now();
      const { out, truncated } = await text.encode(texts);
      const dim = info.embedDim;
      const rows = new Float32Array(out.length * dim);
      out.forEach((r, i) => rows.set(r, i * dim));
      return { ok: true, rows, dim, truncated: [...truncated], manifestSha256: manifest, textEncoder: await text.meta(), inferenceMs: performance.now() - t0 };
    },
  };
}
