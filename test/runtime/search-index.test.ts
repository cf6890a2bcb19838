// The Node/Deno/Bun search-index seam (src/runtime/fs/search-index.ts): LanceDB by default, any
// driver through `open`. Run through the server the CLI and serveNode build (createService), with
// the bundled model; the expected match comes from the eval set's labels, not from the code.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { openNodeIndex } from '../../src/runtime/fs/search-index.ts';
import { createService } from '../../src/runtime/fs/service.ts';
import { createMemoryIndex } from '../../src/search/drivers/memory.ts';
import type { IndexOptions } from '../../src/search/types.ts';
import { EVAL_DIR, type EvalSet } from '../helpers/clip.ts';

const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const pick = (label: string) => evalSet.images.find((i) => i.label === label && i.split === 'seen' && i.file.endsWith('.jpg'))!;
const tmp = mkdtempSync(path.join(tmpdir(), 'clip-edge-fs-index-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('search index seam on Node, Deno and Bun', { timeout: 120_000 }, () => {
  it('`open` plugs any driver into the server: opened once for the loaded model, with the declared fields', async () => {
    const opened: IndexOptions[] = [];
    const { app, clip } = await createService(
      { backend: 'wasm', requestLog: false },
      { page: false, search: { fields: { label: 'string' }, open: (space) => (opened.push(space), createMemoryIndex(space)) } },
    );
    try {
      expect(opened).toEqual([{ model: 'tiny-clip', dim: clip.info.embedDim, fields: { label: 'string' } }]);
      for (const label of ['red circle', 'yellow star']) {
        const file = pick(label).file;
        const r = await app.request(`/v1/index?id=${label.replace(' ', '-')}&metadata=${encodeURIComponent(JSON.stringify({ label }))}`, {
          method: 'POST',
          headers: { 'content-type': 'image/jpeg' },
          body: new Uint8Array(readFileSync(path.join(EVAL_DIR, file))),
        });
        expect(r.status, await r.clone().text()).toBe(200);
      }
      const s = await app.request('/v1/search', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'a photo of a yellow star.', filter: { label: { $ne: 'nothing' } } }) });
      expect(s.status).toBe(200);
      const { matches } = (await s.json()) as { matches: { id: string; metadata: { label: string } }[] };
      expect(matches.map((m) => m.metadata.label)).toEqual(['yellow star', 'red circle']);
    } finally {
      await clip.close();
    }
  });

  it('an index that fails to open fails the service, and the ClipEdge it made is closed (its threads ended)', async () => {
    const terminate = vi.spyOn(Worker.prototype, 'terminate');
    try {
      const failing = createService({ backend: 'wasm', requestLog: false, decodeThreads: 1 }, { page: false, search: { open: () => Promise.reject(new Error('no index here')) } });
      await expect(failing).rejects.toThrow('no index here');
      // The inference thread and the decode thread that warmup started.
      expect(terminate.mock.calls.length).toBeGreaterThanOrEqual(2);
    } finally {
      terminate.mockRestore();
    }
  });

  it('LanceDB stays the default: `{ db }` opens a LanceDB folder', async () => {
    const index = await openNodeIndex({ info: { id: 'm', embedDim: 4 } } as never, { db: path.join(tmp, 'db'), fields: { n: 'number' } });
    try {
      expect(index.driver).toBe('lancedb');
      expect(index.space).toEqual({ model: 'm', dim: 4 });
      expect(index.fields).toEqual({ n: 'number' });
    } finally {
      await index.close();
    }
  });
});
