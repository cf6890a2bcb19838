// The inference thread (src/runtime/fs/inference-thread.ts): the same embeddings as inference on the
// calling thread (WASM and onnxruntime-node), the event loop free while a run goes on, a request
// past its deadline answered 503 TIMEOUT while its run still goes on and /healthz answers, the
// thread never keeping a finished process alive, and close() ending it.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClipEdge } from '../../src/core/clip.ts';
import { memorySource } from '../../src/core/model/source.ts';
import { createNodeClipEdge } from '../../src/runtime/fs/create.ts';
import { threadedNodeBackends } from '../../src/runtime/fs/inference-thread.ts';
import { wasmBackend } from '../../src/runtime/fs/ort.ts';
import { serveNode, type RunningServer } from '../../src/runtime/node/serve.ts';
import { EVAL_DIR, REPO_ROOT, type EvalSet } from '../helpers/clip.ts';
import { slowVisionFolder } from '../helpers/slow-vision.ts';

const photo = (name: string) => new Uint8Array(readFileSync(path.join(REPO_ROOT, 'test/fixtures/pil/inputs', name)));
const evalSet = JSON.parse(readFileSync(path.join(EVAL_DIR, 'labels.json'), 'utf8')) as EvalSet;
const torchTop1 = (JSON.parse(readFileSync(path.join(EVAL_DIR, 'torch-reference.json'), 'utf8')) as { torch_top1: Record<string, string> }).torch_top1;
const hasNative = (() => {
  try {
    createRequire(import.meta.url).resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
})();
const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe.each([
  ['wasm', true],
  ['node', hasNative],
] as const)('inference thread, %s backend', (backend, available) => {
  it.skipIf(!available)('gives the same image and text embeddings as the calling thread, and PyTorch’s top-1 on an eval image', async () => {
    const [threaded, local] = await Promise.all([createNodeClipEdge({ backend, decodeThreads: 0 }), createNodeClipEdge({ backend, inferenceThread: false, decodeThreads: 0 })]);
    try {
      expect(threaded.core.backend.name).toBe(backend);
      for (const name of ['baseline-420.jpg', 'rgb8.png', 'lossy.webp']) {
        const [a, b] = await Promise.all([threaded.core.embedImage(photo(name)), local.core.embedImage(photo(name))]);
        expect(same(a.embedding, b.embedding), name).toBe(true);
      }
      const texts = ['a photo of a cat', 'a red square'];
      const [ta, tb] = await Promise.all([threaded.core.embedText(texts), local.core.embedText(texts)]);
      ta.embeddings.forEach((e, i) => expect(same(e, tb.embeddings[i]!)).toBe(true));
      const item = evalSet.images.find((i) => i.split === 'seen' && torchTop1[i.file] === i.label)!;
      const r = await threaded.core.classify(new Uint8Array(readFileSync(path.join(EVAL_DIR, item.file))), { labels: evalSet.labels, topK: 1 });
      expect(r.results[0]!.label).toBe(torchTop1[item.file]);
    } finally {
      await Promise.all([threaded.core.close(), local.core.close()]);
    }
  }, 120_000);
});

describe('inference thread: weights in place', () => {
  it('streams an ORT-format model into the thread chunk by chunk and runs it in place, as the calling thread does', async () => {
    const threaded = await createNodeClipEdge({ backends: threadedNodeBackends({ inPlace: true }), backend: 'wasm', visionVariant: 'int8', text: false, decodeThreads: 0 });
    const local = await createNodeClipEdge({ backends: [wasmBackend({ inPlace: true })], backend: 'wasm', visionVariant: 'int8', text: false, decodeThreads: 0 });
    try {
      const [a, b] = await Promise.all([threaded.core.embedImage(photo('baseline-420.jpg')), local.core.embedImage(photo('baseline-420.jpg'))]);
      expect(threaded.core.status().active.vision).toMatchObject({ variant: 'int8', loaded: true, inPlace: true });
      expect(same(a.embedding, b.embedding)).toBe(true);
      // The thread's wasm memory is reported back (it holds the streamed file).
      expect(threaded.core.backend.inPlace!.memoryBytes()).toBeGreaterThan(0);
    } finally {
      await Promise.all([threaded.core.close(), local.core.close()]);
    }
  }, 120_000);
});

describe('inference thread: the event loop stays free', () => {
  // ~80 M multiply-adds per layer: 40 layers is ~3 G, a ViT-B/32 image's order of work (about a second here).
  const slow = slowVisionFolder(40);
  afterAll(() => rmSync(slow, { recursive: true, force: true }));

  it('timers fire while a run goes on (on the calling thread they would wait for it)', async () => {
    const kit = await createNodeClipEdge({ model: slow, backend: 'wasm', text: false, decodeThreads: 0 });
    try {
      await kit.core.warmup();
      let finished = false;
      const running = kit.core.embedImage(photo('baseline-420.jpg')).finally(() => (finished = true));
      for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 20));
      expect(finished).toBe(false);
      expect((await running).embedding).toHaveLength(32);
    } finally {
      await kit.core.close();
    }
  }, 120_000);

  describe('over HTTP', () => {
    let server: RunningServer;
    beforeAll(async () => {
      server = await serveNode({ port: 0, host: '127.0.0.1', backend: 'wasm', model: slow, text: false, requestTimeoutMs: 300, requestLog: false }, { page: false });
    }, 120_000);
    afterAll(() => server?.close());

    it('a request past its deadline gets 503 TIMEOUT while its run still goes on, and /healthz answers meanwhile', async () => {
      const r = await fetch(`${server.url}/v1/embed/image`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: photo('baseline-420.jpg') });
      expect(r.status).toBe(503);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('TIMEOUT');
      // The run (about a second) is still in flight: the gauge counts it until it ends.
      const [health, load] = await Promise.all([fetch(`${server.url}/healthz`), fetch(`${server.url}/v1/load`)]);
      expect(health.status).toBe(200);
      expect(((await load.json()) as { inFlight: number }).inFlight).toBe(1);
      // Then it ends and gives its slot back.
      let gauge = { inFlight: 1, admitted: 0, released: -1 };
      for (let i = 0; i < 600 && gauge.inFlight > 0; i++) {
        await new Promise((res) => setTimeout(res, 50));
        gauge = (await (await fetch(`${server.url}/v1/load`)).json()) as typeof gauge;
      }
      expect(gauge).toMatchObject({ inFlight: 0, released: gauge.admitted });
    }, 120_000);
  });
});

describe('inference thread: the model bytes', () => {
  const folder = slowVisionFolder(1);
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('never takes an array that its source keeps (memorySource): a second instance over the same source loads', async () => {
    // Arrays that own their buffers: what a transfer to the thread would detach.
    const files: Record<string, Uint8Array> = {};
    for (const f of readdirSync(folder, { recursive: true, withFileTypes: true })) {
      if (f.isFile()) files[path.relative(folder, path.join(f.parentPath, f.name)).split(path.sep).join('/')] = new Uint8Array(readFileSync(path.join(f.parentPath, f.name)));
    }
    const sizes = Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.byteLength]));
    const source = memorySource('toy', files);
    const embeddings: Float32Array[] = [];
    for (let i = 0; i < 2; i++) {
      const clip = await createClipEdge({ source, backends: threadedNodeBackends(), backend: 'wasm' });
      try {
        embeddings.push((await clip.embedText(['a photo of a cat'])).embeddings[0]!);
      } finally {
        await clip.close();
      }
      expect(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, v.byteLength]))).toEqual(sizes);
    }
    expect(same(embeddings[0]!, embeddings[1]!)).toBe(true);
  }, 60_000);
});

describe('inference thread: lifetime', () => {
  it('never keeps a process alive once its work is done', () => {
    // A child that embeds one image and returns without close(): it must print and exit by itself.
    const script = `
      import { createNodeClipEdge } from ${JSON.stringify(path.join(REPO_ROOT, 'src/runtime/fs/create.ts'))};
      const kit = await createNodeClipEdge({ backend: 'wasm' });
      const r = await kit.core.embedText(['a photo of a cat']);
      console.log('dims', r.embeddings[0].length);
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, r.stderr).toBeNull(); // not killed by the timeout: it exited by itself
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('dims 128');
  }, 90_000);

  it('close() ends the thread: later inference is refused with a clear error', async () => {
    const kit = await createNodeClipEdge({ backend: 'wasm', decodeThreads: 0 });
    await kit.core.embedText(['a square']);
    await kit.core.close();
    await expect(kit.core.embedText(['a circle'])).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('inference thread ended (closed)') });
  }, 60_000);

  it('close() before any inference refuses later inference too (it never starts a thread after close)', async () => {
    const backends = threadedNodeBackends();
    await backends[1]!.close!();
    await expect(backends[1]!.init()).rejects.toMatchObject({ code: 'INTERNAL', message: expect.stringContaining('inference thread ended (closed)') });
  });
});
