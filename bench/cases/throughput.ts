// Throughput of the HTTP API over loopback: the real Node server (bin/clip-edge.js serve) in its
// own process, a bounded number of classify requests at concurrency 1, 4 and 16, with
// micro-batching (CLIP_EDGE_MAX_BATCH=16, the default) and without it (=1).
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { caseMain } from '../lib/case.ts';
import { imagenetLabels, readPhotos, TEMPLATE } from '../lib/photos.ts';
import { classifyOver, serverCommand, startServer } from '../lib/server.ts';
import { summarise, type Summary } from '../lib/stats.ts';

export interface ThroughputArgs {
  model: string;
  backend: 'wasm' | 'node';
  threads: number;
  maxBatch: number;
  concurrency: number[];
  /** Requests per concurrency level (at least 2 per client). */
  requests: number;
  photos: string[];
  /** V8 flags of the server process. */
  v8Flags: string[];
}

export interface ThroughputLevel {
  concurrency: number;
  requests: number;
  requestsPerSecond: number;
  latency: Summary;
}

caseMain(async (a: ThroughputArgs) => {
  const photos = readPhotos(a.photos);
  const query = new URLSearchParams({ topK: '1', templates: TEMPLATE });
  for (const l of imagenetLabels(10)) query.append('labels', l);
  const server = await startServer('node', {
    CLIP_EDGE_MODEL: a.model,
    CLIP_EDGE_BACKEND: a.backend,
    CLIP_EDGE_THREADS: String(a.threads),
    CLIP_EDGE_MAX_BATCH: String(a.maxBatch),
    CLIP_EDGE_PROMPT_CACHE: mkdtempSync(path.join(os.tmpdir(), 'clip-edge-bench-prompts-')),
  }, { v8Flags: a.v8Flags });
  try {
    const first = await classifyOver(server.url, photos[0]!, query); // labels embedded once, then kept
    await classifyOver(server.url, photos[1 % photos.length]!, query);
    const levels: ThroughputLevel[] = [];
    for (const c of a.concurrency) {
      const total = Math.max(a.requests, 2 * c);
      let next = 0;
      const lat: number[] = [];
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: c }, async () => {
          while (next < total) {
            const i = next++;
            const t = performance.now();
            await classifyOver(server.url, photos[i % photos.length]!, query);
            lat.push(performance.now() - t);
          }
        }),
      );
      const wall = performance.now() - t0;
      levels.push({ concurrency: c, requests: total, requestsPerSecond: (total * 1000) / wall, latency: summarise(lat) });
      process.stderr.write(`maxBatch ${a.maxBatch}, concurrency ${c}: ${levels.at(-1)!.requestsPerSecond.toFixed(1)} req/s\n`);
    }
    return { backend: first.backend, variant: first.variant.vision, command: `CLIP_EDGE_MAX_BATCH=${a.maxBatch} node ${a.v8Flags.map((f) => `${f} `).join('')}${serverCommand('node').slice('node '.length)}`, levels };
  } finally {
    await server.stop();
  }
});
