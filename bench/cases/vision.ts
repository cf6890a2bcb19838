// Vision forward latency of one variant on one backend (batch 1, a fixed random image), session
// creation time, process RSS and ORT-web's wasm heap. One process per configuration.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Backend } from '../../src/core/backend.ts';
import { readModelInfo } from '../../src/core/model/info.ts';
import type { Precision } from '../../src/core/precision.ts';
import { nativeBackend, wasmBackend } from '../../src/runtime/fs/ort.ts';
import { fsModelSource } from '../../src/runtime/fs/model-source.ts';
import { caseMain } from '../lib/case.ts';
import { MiB, timeRuns } from '../lib/stats.ts';
import { trackWasmMemory, wasmMemoryBytes } from '../lib/wasm-memory.ts';

export interface VisionArgs {
  model: string;
  backend: 'wasm' | 'node';
  threads: number;
  variant: Precision;
  iterations: number;
  warmup: number;
}

caseMain(async (a: VisionArgs) => {
  trackWasmMemory();
  const info = await readModelInfo(fsModelSource(a.model));
  const entry = info.variants[a.variant]?.vision;
  if (!entry) throw new Error(`${a.model} has no ${a.variant} vision encoder`);
  const backend: Backend = a.backend === 'wasm' ? wasmBackend({ threads: a.threads }) : nativeBackend({ threads: a.threads });
  const rssBefore = process.memoryUsage().rss;
  const t0 = performance.now();
  await backend.init();
  let bytes: Uint8Array | undefined = new Uint8Array(readFileSync(path.join(a.model, entry.file)));
  const session = await backend.createSession(bytes);
  bytes = undefined; // dropped, as the kit does after creating a session
  const sessionMs = performance.now() - t0;
  const { cropHeight: h, cropWidth: w } = info.preprocess;
  const pixels = new Float32Array(3 * h * w);
  let seed = 7;
  for (let i = 0; i < pixels.length; i++) pixels[i] = ((seed = (seed * 16807) % 2147483647) / 2147483647) * 4 - 2;
  const feeds = { pixel_values: backend.tensor('float32', pixels, [1, 3, h, w]) };
  const forward = await timeRuns(a.iterations, () => session.run(feeds), a.warmup);
  return {
    sessionMs,
    forward,
    rssMiB: process.memoryUsage().rss / MiB,
    rssGrowthMiB: (process.memoryUsage().rss - rssBefore) / MiB,
    wasmHeapMiB: a.backend === 'wasm' ? (wasmMemoryBytes() ?? 0) / MiB : undefined,
    fileMiB: (entry.bytes ?? 0) / MiB,
  };
});
