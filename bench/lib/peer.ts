// transformers.js (@huggingface/transformers), the peer a JavaScript user would pick, loaded the
// two ways clip-edge runs: with onnxruntime-web's WASM (what it runs in browsers: its own
// onnxruntime-web dependency, handed in through its documented `Symbol.for('onnxruntime')` hook)
// or with onnxruntime-node (its Node default). Local folders only: the hub is never contacted.
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';

type Transformers = typeof import('@huggingface/transformers');
export type PeerBackend = 'wasm' | 'node';

export interface Peer {
  t: Transformers;
  backend: PeerBackend;
  versions: { transformers: string; onnxruntime: string };
  /** Options for `pipeline()` / `from_pretrained()` that select the backend and threads. */
  modelOptions(dtype: string): Record<string, unknown>;
}

const require = createRequire(import.meta.url);
const tjsMain = require.resolve('@huggingface/transformers');

/** A package's version as `req` resolves it (its package.json next to its entry). */
export function pkgVersion(req: NodeRequire, name: string): string {
  let dir = path.dirname(req.resolve(name));
  while (!existsSync(path.join(dir, 'package.json')) || (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string }).name !== name) {
    const up = path.dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
  return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

export async function loadPeer(backend: PeerBackend, threads: number, modelRoot: string): Promise<Peer> {
  let ortVersion: string;
  if (backend === 'wasm') {
    const ortPath = createRequire(tjsMain).resolve('onnxruntime-web');
    const ort = (await import(pathToFileURL(ortPath).href)) as typeof import('onnxruntime-web');
    ort.env.wasm.numThreads = threads;
    // Its own wasm files from disk (otherwise transformers.js points wasmPaths at a CDN).
    ort.env.wasm.wasmPaths = pathToFileURL(`${path.dirname(ortPath)}/`).href;
    (globalThis as Record<symbol, unknown>)[Symbol.for('onnxruntime')] = ort;
    ortVersion = `onnxruntime-web ${ort.env.versions.web}`;
  } else {
    ortVersion = `onnxruntime-node ${pkgVersion(createRequire(tjsMain), 'onnxruntime-node')}`;
  }
  const t = await import('@huggingface/transformers');
  t.env.allowRemoteModels = false;
  t.env.allowLocalModels = true;
  t.env.localModelPath = `${modelRoot}/`;
  const version = pkgVersion(require, '@huggingface/transformers');
  return {
    t,
    backend,
    versions: { transformers: version, onnxruntime: ortVersion },
    modelOptions: (dtype) =>
      backend === 'wasm'
        ? // With an injected ORT, transformers.js 4.3 knows no device names in Node ("Unsupported device");
          // an empty per-file device falls through to the session options' execution provider.
          { dtype, device: { model: '' }, session_options: { executionProviders: ['wasm'] } }
        : { dtype, device: 'cpu', session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 } },
  };
}
