// Cloudflare Workers: the bindings and vars of one isolate (see ../adapter.ts for the contract).
import type { RuntimeAdapter } from '../adapter.ts';
import type { WorkersEnv } from './bindings.ts';
import { workersImageCodecs } from './codecs.ts';
import type { WorkersConfig } from './config.ts';
import { labelSetsOf } from './label-sets.ts';
import { decodeBudgetFromModel } from './limits.ts';
import { modelSourceOf } from './model-source.ts';
import { ortWasmMemoryBytes, workersWasmBackend } from './ort.ts';
import { promptCacheOf } from './prompt-cache.ts';
import { workersRemoteText } from './remote-text.ts';
import { workersRemoteVision } from './remote-vision.ts';
import { vectorizeIndexOf } from './search-index.ts';

/** An isolate's bindings, and its vars read once (workersConfig). */
export interface WorkersPlace {
  env: WorkersEnv;
  cfg: WorkersConfig;
}

/** In an isolate a promise resolved by one request resumes its awaiter in that request's I/O context: shared waits poll. */
const WORKERS_POLL_GRANTS = true;

export const workersAdapter: RuntimeAdapter<WorkersPlace> = {
  name: 'workers',
  pollGrants: WORKERS_POLL_GRANTS,
  modelSource: ({ env, cfg }) => modelSourceOf(env, cfg),
  backends: () => [workersWasmBackend()],
  imageCodecs: () => workersImageCodecs(),
  // KV in front (written back to), then the prompt caches uploaded inside the model folder in R2.
  promptCache: ({ env, cfg }) => promptCacheOf(env, cfg),
  labelSets: ({ env, cfg }, source) => labelSetsOf(env, cfg, source),
  defaults: ({ env, cfg }, source) => ({
    visionVariant: cfg.visionVariant,
    textVariant: cfg.textVariant,
    text: cfg.text,
    limits: cfg.limits,
    imageDecode: {
      budgetBytes: cfg.decodeBudgetBytes === 'auto' ? () => decodeBudgetFromModel({ ortWasmBytes: ortWasmMemoryBytes() ?? 0, bodyMemoryBytes: cfg.bodyMemoryBytes }) : cfg.decodeBudgetBytes,
      jpegScaling: cfg.jpegScaling,
      // Decodes wait for each other's budget across requests; a timer set after such a wait would
      // belong to the request that granted it (see ImageDecoderOptions.yieldBetweenRows).
      yieldBetweenRows: false,
      // For the same reason a decode waiting for the budget polls for its turn (see ByteBudget).
      pollGrants: WORKERS_POLL_GRANTS,
    },
    // One image per inference run: a batch of 4 grew ViT-B/32's heap by 20 MiB, and one thread gains little from batching.
    maxBatch: 1,
    // Models come from a bucket: every ONNX file must match the manifest's sha256.
    requireIntegrity: true,
    inPlace: cfg.inPlace,
    // The text Worker over its service binding, unless this Worker loads the text tower itself.
    ...(env.TEXT && !cfg.text ? { textEmbedder: workersRemoteText(env, source, cfg.textVariant) } : {}),
    // The vision tower split across part Workers (VISION_PARTS: part 1): this Worker decodes and preprocesses only.
    ...(env.VISION_PARTS ? { visionTower: workersRemoteVision(env, source, cfg.visionVariant) } : {}),
  }),
  index: ({ env }) => (env.VECTORIZE ? vectorizeIndexOf(env) : undefined),
};
