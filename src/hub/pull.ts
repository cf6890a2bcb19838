/**
 * `clip-edge pull`: download a CLIP model folder from a Hugging Face-compatible hub into the
 * local cache. Files stream into `<file>.partial` (resumed with `Range` when one is left over),
 * are hashed while they stream, and are renamed into place only once size and sha256 match what
 * the hub (`X-Linked-*` headers, API listing) and our manifest.json say.
 *
 * Node-side on purpose: it writes to disk and hashes incrementally with `node:crypto`, which
 * Web Crypto cannot do.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onnxFileOf, PRECISIONS } from '../core/precision.ts';
import { pullFile } from './download.ts';
import { expectedBytes } from './http.ts';
import { applyManifest, checkSelection, combinedCandidates, listFiles, optional, parseManifest, probeAll } from './listing.ts';
import { modelDirOf, type PulledFile, type PullOptions, type PullResult, resolvePullOptions, TOWER_FILE } from './options.ts';

export {
  modelDirOf,
  resolvePullOptions,
  type Listing,
  type PulledFile,
  type PullEvent,
  type PullOptions,
  type PullResult,
  type ResolvedPullOptions,
  type VerifiedBy,
} from './options.ts';

export async function pullModel(options: PullOptions): Promise<PullResult> {
  const o = resolvePullOptions(options);
  o.signal?.throwIfAborted();
  const dir = modelDirOf(o);
  const warnings: string[] = [];
  const warn = (message: string) => {
    warnings.push(message);
    o.emit({ type: 'warning', message });
  };

  const { listing, entries, manifest } = await listFiles(o);
  const present = await probeAll(o, entries);
  if (listing !== 'api') {
    // Without a listing, a combined model and external data can only be probed for.
    if (!present.some((e) => TOWER_FILE.test(e.path))) present.push(...await probeAll(o, combinedCandidates(o)));
    present.push(...await probeAll(o, present.filter((e) => e.path.endsWith('.onnx')).map((e) => optional(`${e.path}_data`))));
  }
  checkSelection(o, present, warn);

  // manifest.json goes first: its bytes+sha256 become claims for the ONNX files.
  present.sort((a, b) => Number(b.path === 'manifest.json') - Number(a.path === 'manifest.json'));
  if (manifest) applyManifest(present, manifest);
  const totals = { received: 0, bytes: present.reduce((n, e) => n + (expectedBytes(e) ?? 0), 0) };
  o.emit({
    type: 'plan', repo: o.repo, revision: o.revision, listing,
    files: present.map((e) => ({ path: e.path, bytes: expectedBytes(e) })), totalBytes: totals.bytes,
  });

  const files: PulledFile[] = [];
  for (const entry of present) {
    const file = await pullFile(o, dir, entry, totals);
    files.push(file);
    o.emit({ type: 'file-done', file, totalReceived: totals.received, totalBytes: totals.bytes });
    if (entry.path === 'manifest.json' && !manifest) {
      const listed = parseManifest(o, await readFile(join(dir, 'manifest.json'), 'utf8'));
      if (listed) applyManifest(present, listed);
      else warn('manifest.json is not a clip-edge manifest (no "variants"); files are checked against the hub only');
    }
  }
  const have = new Set(files.map((f) => f.path));
  const variants = PRECISIONS.filter((p) => o.towers.every((t) => have.has(onnxFileOf(t, p))));
  return { dir, repo: o.repo, revision: o.revision, listing, files, variants, warnings };
}
