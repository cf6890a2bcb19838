// Cold start on Node, Deno and Bun: process spawn → the first classify answer over HTTP (the
// server loads the model and creates its sessions before it listens), then warm latency of the
// same request. One fresh process per runtime; the label set's class embeddings come from the
// model's prompt cache when it has one, else 10 inline labels are embedded on the first request.
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { caseMain } from '../lib/case.ts';
import { readPhotos } from '../lib/photos.ts';
import { classifyOver, coldStartQuery, serverCommand, type ServerRuntime, startServer } from '../lib/server.ts';
import { timeRuns } from '../lib/stats.ts';

export interface ColdStartArgs {
  model: string;
  runtime: ServerRuntime;
  backend: 'wasm' | 'node';
  photos: string[];
  iterations: number;
}

caseMain(async (a: ColdStartArgs) => {
  const photos = readPhotos(a.photos);
  const { query, what } = coldStartQuery(a.model);
  const server = await startServer(a.runtime, {
    CLIP_EDGE_MODEL: a.model,
    CLIP_EDGE_BACKEND: a.backend,
    CLIP_EDGE_PROMPT_CACHE: mkdtempSync(path.join(os.tmpdir(), 'clip-edge-bench-prompts-')),
  });
  try {
    const first = await classifyOver(server.url, photos[0]!, query);
    const firstAnswerMs = performance.now() - server.spawnedAt;
    // As many untimed requests as timed ones first (V8 tiers WebAssembly up in the background).
    const warm = await timeRuns(a.iterations, (i) => classifyOver(server.url, photos[Math.abs(i) % photos.length]!, query), a.iterations);
    return { runtime: a.runtime, backend: first.backend, variant: first.variant.vision, request: what, listenMs: server.listenMs, firstAnswerMs, warm, command: serverCommand(a.runtime) };
  } finally {
    await server.stop();
  }
});
