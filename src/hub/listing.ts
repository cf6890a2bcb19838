import { ClipEdgeError } from '../core/errors.ts';
import { manifestFiles, parseManifest as parseManifestSchema } from '../core/model/manifest.ts';
import { PRECISION_SUFFIX, PRECISIONS, type Tower } from '../core/precision.ts';
import { asSize, fileUrl, headersFor, isRepoLevel404, readText, request, sha256Of } from './http.ts';
import { COMBINED_FILE, CONFIG_FILE, DATA_FILE, EXTRA_SUFFIXES, FIXED_CONFIGS, type Listing, PROMPT_FILE, type ResolvedPullOptions, SAFE_PATH, SHA256, TOWER_FILE } from './options.ts';

/** Which files `pull` fetches: the hub API listing, else the repo's manifest.json, else a fixed list probed with HEAD. */

/** Something a hub or manifest says about a file; every claim must hold. */
export interface Claim {
  by: 'hub' | 'manifest';
  bytes?: number;
  sha256?: string;
}

export interface Entry {
  path: string;
  /** 404 on a required file is MODEL_NOT_FOUND; an optional one is left out. */
  required: boolean;
  claims: Claim[];
}

export type ManifestFiles = { precision: string; tower: Tower; file: string; bytes?: number; sha256?: string }[];

export async function listFiles(o: ResolvedPullOptions): Promise<{ listing: Listing; entries: Entry[]; manifest?: ManifestFiles }> {
  const fromApi = await listFromApi(o);
  if (fromApi) return { listing: 'api', entries: fromApi };

  const url = fileUrl(o, 'manifest.json');
  const text = await request(o, url, { headers: headersFor(o, url) }, async (res) => {
    if (res.status !== 404 || isRepoLevel404(res)) return readText(o, res, url);
    await res.body?.cancel();
    return null;
  }, { path: 'manifest.json' });
  const configs = FIXED_CONFIGS.map((path) => ({ ...optional(path), required: path === 'config.json' }));
  const manifest = text === null ? undefined : parseManifest(o, text);
  if (manifest) {
    const onnx = manifest.filter((m) => o.towers.includes(m.tower) && (!o.variants || o.variants.some((v) => v === m.precision)));
    const paths = [...new Set(onnx.map((m) => m.file))];
    return { listing: 'manifest', manifest, entries: [...configs, { path: 'manifest.json', required: true, claims: [] }, ...paths.map((path) => ({ path, required: true, claims: [] }))] };
  }
  const suffixes = new Set<string>(o.variants ? o.variants.map((v) => PRECISION_SUFFIX[v]) : [...Object.values(PRECISION_SUFFIX), ...EXTRA_SUFFIXES]);
  const onnx = o.towers.flatMap((t) => [...suffixes].map((s) => `onnx/${t}_model${s}.onnx`));
  return { listing: 'fixed', entries: [...configs, optional('manifest.json'), ...onnx.map(optional)] };
}

/** The hub API's file list, or undefined when this hub has no API (a plain mirror). */
export async function listFromApi(o: ResolvedPullOptions): Promise<Entry[] | undefined> {
  const url = `${o.baseUrl}/api/models/${o.repo}/revision/${encodeURIComponent(o.revision)}?blobs=true`;
  const text = await request(o, url, { headers: { ...headersFor(o, url), accept: 'application/json' } }, async (res) => {
    if (res.status === 401 || res.status === 403 || isRepoLevel404(res)) return undefined; // becomes the error
    if (res.ok) return readText(o, res, url);
    await res.body?.cancel();
    return null; // no API on this hub: fall back to manifest.json
  });
  if (text === null) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const siblings = (json as { siblings?: unknown }).siblings;
  if (!Array.isArray(siblings)) return undefined;
  const claims = new Map<string, Claim[]>();
  for (const s of siblings as { rfilename?: unknown; size?: unknown; lfs?: { sha256?: unknown; size?: unknown } }[]) {
    if (typeof s?.rfilename !== 'string' || !SAFE_PATH.test(s.rfilename)) continue;
    const bytes = asSize(s.lfs?.size) ?? asSize(s.size);
    const sha256 = typeof s.lfs?.sha256 === 'string' && SHA256.test(s.lfs.sha256) ? s.lfs.sha256 : undefined;
    claims.set(s.rfilename, [{ by: 'hub', ...(bytes !== undefined && { bytes }), ...(sha256 && { sha256 }) }]);
  }
  return selectPaths(o, [...claims.keys()]).map((path) => ({ path, required: true, claims: claims.get(path) ?? [] }));
}

/** The subset of a repo listing a CLIP model folder needs, for the chosen towers and precisions. */
export function selectPaths(o: ResolvedPullOptions, paths: readonly string[]): string[] {
  const towerFiles = paths.filter((p) => {
    const m = TOWER_FILE.exec(p);
    return m && o.towers.includes(m[1] as Tower) && suffixWanted(o, m[2] ?? '');
  });
  const onnx = towerFiles.length > 0 ? towerFiles : paths.filter((p) => suffixWanted(o, COMBINED_FILE.exec(p)?.[1] ?? '-'));
  const keep = new Set(onnx);
  return paths.filter((p) =>
    keep.has(p) ||
    (!p.includes('/') && CONFIG_FILE.test(p)) ||
    PROMPT_FILE.test(p) ||
    keep.has(DATA_FILE.exec(p)?.[1] ?? ''),
  );
}

export const suffixWanted = (o: ResolvedPullOptions, suffix: string): boolean =>
  suffix !== '-' && (!o.variants || o.variants.some((v) => PRECISION_SUFFIX[v] === suffix));

export const optional = (path: string): Entry => ({ path, required: false, claims: [] });

export const combinedCandidates = (o: ResolvedPullOptions): Entry[] =>
  (o.variants ?? PRECISIONS).map((v) => optional(`onnx/model${PRECISION_SUFFIX[v]}.onnx`));

export function checkSelection(o: ResolvedPullOptions, present: readonly Entry[], warn: (m: string) => void): void {
  const onnx = present.filter((e) => e.path.endsWith('.onnx')).map((e) => e.path);
  if (onnx.length === 0) {
    const which = o.variants ? ` in precision ${o.variants.join(', ')}` : '';
    throw new ClipEdgeError('MODEL_NOT_FOUND',
      `no ONNX files for tower ${o.towers.join(', ')}${which} in ${o.repo}@${o.revision} on ${o.baseUrl}`,
      { details: { repo: o.repo, revision: o.revision } });
  }
  for (const path of onnx) {
    if (COMBINED_FILE.test(path)) {
      warn(`${path} is a combined vision+text export: it is downloaded, but the runtime only loads separate onnx/vision_model*.onnx and onnx/text_model*.onnx files`);
    } else if (!PRECISIONS.some((p) => PRECISION_SUFFIX[p] === TOWER_FILE.exec(path)?.[2])) {
      warn(`${path} has no precision in the table (${PRECISIONS.join(', ')}); the runtime will not pick it by precision`);
    }
  }
}

/**
 * The files our manifest.json lists; `undefined` when it is not ours (not JSON, no `variants`).
 * A manifest of ours that fails ManifestSchema is MODEL_INVALID: its hashes cannot be trusted.
 */
export function parseManifest(o: ResolvedPullOptions, text: string): ManifestFiles | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const variants = (json as { variants?: unknown })?.variants;
  if (typeof variants !== 'object' || variants === null || Array.isArray(variants)) return undefined;
  return manifestFiles(parseManifestSchema(json, `manifest.json of ${o.repo}@${o.revision}`)).map(({ precision, tower, file }) => ({
    precision,
    tower,
    file: file.file,
    ...(file.bytes !== undefined && { bytes: file.bytes }),
    ...(file.sha256 !== undefined && { sha256: file.sha256 }),
  }));
}

export function applyManifest(entries: readonly Entry[], manifest: ManifestFiles): void {
  for (const m of manifest) {
    const entry = entries.find((e) => e.path === m.file);
    if (!entry || entry.claims.some((c) => c.by === 'manifest')) continue;
    entry.claims.push({ by: 'manifest', ...(m.bytes !== undefined && { bytes: m.bytes }), ...(m.sha256 && { sha256: m.sha256 }) });
  }
}

// ---------------------------------------------------------------- probing (HEAD)

export async function probeAll(o: ResolvedPullOptions, entries: readonly Entry[]): Promise<Entry[]> {
  const out: (Entry | undefined)[] = new Array(entries.length);
  let next = 0;
  const worker = async () => {
    while (next < entries.length) {
      const i = next++;
      out[i] = await probe(o, entries[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(4, entries.length) }, worker));
  return out.filter((e): e is Entry => e !== undefined);
}

/**
 * HEAD without following redirects: huggingface.co puts `X-Linked-Size` / `X-Linked-ETag` (the
 * LFS sha256) on the redirect to its CDN, not on the CDN's answer.
 */
export async function probe(o: ResolvedPullOptions, entry: Entry): Promise<Entry | undefined> {
  let url = fileUrl(o, entry.path);
  for (let hop = 0; hop < 5; hop++) {
    const found = await request(o, url, { method: 'HEAD', redirect: 'manual', headers: headersFor(o, url) }, async (res) => {
      if (res.status === 404 && !entry.required) return 'absent' as const;
      if (res.status === 405 || res.status === 501) return [] as Claim[]; // no HEAD here: GET will tell
      if (!res.ok && !(res.status >= 300 && res.status < 400)) return undefined; // thrown by request()
      const linkedSize = asSize(res.headers.get('x-linked-size'));
      const linkedSha = sha256Of(res.headers.get('x-linked-etag'));
      const location = res.headers.get('location');
      if (res.status >= 300 && linkedSize === undefined && linkedSha === undefined && location) {
        return new URL(location, url).href;
      }
      const size = linkedSize ?? (res.status < 300 && !res.headers.get('content-encoding') ? asSize(res.headers.get('content-length')) : undefined);
      const sha = linkedSha ?? sha256Of(res.headers.get('etag'));
      return size === undefined && sha === undefined ? [] : [{ by: 'hub' as const, ...(size !== undefined && { bytes: size }), ...(sha && { sha256: sha }) }];
    }, { path: entry.path });
    if (found === 'absent') return undefined;
    if (typeof found === 'string') {
      url = found;
      continue;
    }
    return { ...entry, claims: [...entry.claims, ...found] };
  }
  throw new ClipEdgeError('NETWORK', `too many redirects for ${fileUrl(o, entry.path)}`);
}
