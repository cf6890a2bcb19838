import type { ModelInfo } from '../../core/model/info.ts';
import type { ModelSource } from '../../core/model/source.ts';
import { type PromptRowStore, createRemoteTextEmbedder } from '../../core/remote-text.ts';
import type { TextEmbedder } from '../../core/text-embedder.ts';
import { envInt } from '../../http/env.ts';
import type { KVNamespaceLike, WorkersEnv } from './bindings.ts';
import { manifestSha256 } from './model-source.ts';
import { workersTextEntry } from './variants.ts';

/** Per-prompt rows in Workers KV (`text-rows/<model>/<text encoder>/<sha256 of the prompt>`, beside the label-set caches). */
export function kvRowStore(kv: KVNamespaceLike): PromptRowStore {
  return {
    get: async (key) => kv.get(key, 'arrayBuffer').then((b) => (b === null ? undefined : new Uint8Array(b))),
    put: (key, bytes) => kv.put(key, bytes),
  };
}

/** CLIP_EDGE_TEXT_TIMEOUT_MS: how long the vision Worker waits for the text Worker. @defaultValue 15000 */
export function textTimeoutMs(env: WorkersEnv): number {
  return envInt({ CLIP_EDGE_TEXT_TIMEOUT_MS: env.CLIP_EDGE_TEXT_TIMEOUT_MS }, 'CLIP_EDGE_TEXT_TIMEOUT_MS', 1) ?? 15_000;
}

/**
 * The text tower of the text Worker (the TEXT service binding) as this Worker's text encoder:
 * rows from isolate memory, then KV (PROMPTS), then one RPC for the misses, written back to KV.
 */
export function workersRemoteText(env: WorkersEnv, source: ModelSource, textVariant: Parameters<typeof workersTextEntry>[1]): (info: ModelInfo) => Promise<TextEmbedder> {
  const service = env.TEXT!;
  const timeoutMs = textTimeoutMs(env);
  return async (info) =>
    createRemoteTextEmbedder({
      info,
      service,
      manifestSha256: await manifestSha256(source),
      textEncoder: workersTextEntry(info, textVariant),
      timeoutMs,
      ...(env.PROMPTS ? { rows: kvRowStore(env.PROMPTS) } : {}),
    });
}
