import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pairPromptCacheStore } from '../../core/prompt-cache/drivers.ts';
import { type PromptCacheStore, tieredPromptCacheStore } from '../../core/prompt-cache/store.ts';
import { modelPromptCacheDir } from './user-cache.ts';

export interface FsPromptCacheOptions {
  /**
   * Most `inline-*` entries (request-time label sets written back) kept; the oldest go first, so
   * requests with ever-new labels cannot fill the disk. @defaultValue 2000
   */
  maxInlineEntries?: number;
  /**
   * Most bytes of `inline-*` entries kept (header + matrix: 256 labels are 141 KB with tiny-clip,
   * ~0.5 MB with ViT-B/32), pruned the same way: the entry count alone allowed ~1 GB.
   * @defaultValue 128 MiB
   */
  maxInlineBytes?: number;
}

export const DEFAULT_MAX_INLINE_ENTRIES = 2000;
export const DEFAULT_MAX_INLINE_BYTES = 128 * 1024 * 1024;

/** Prompt caches as `<dir>/<key>.json` (header) + `<dir>/<key>.bin` (matrix), each file written atomically. */
export function fsPromptCacheStore(dir: string, options: FsPromptCacheOptions = {}): PromptCacheStore {
  const maxInline = options.maxInlineEntries ?? DEFAULT_MAX_INLINE_ENTRIES;
  const maxBytes = options.maxInlineBytes ?? DEFAULT_MAX_INLINE_BYTES;
  const sizeOf = async (f: string) => (await stat(path.join(dir, f)).catch(() => undefined)) ?? { mtimeMs: 0, size: 0 };
  /** Drops the oldest request-time entries until both bounds hold. */
  const pruneInline = async () => {
    const keys = (await readdir(dir)).filter((f) => f.startsWith('inline-') && f.endsWith('.json')).map((f) => f.slice(0, -5));
    const aged = await Promise.all(
      keys.map(async (key) => {
        const [json, bin] = await Promise.all([sizeOf(`${key}.json`), sizeOf(`${key}.bin`)]);
        return { key, t: json.mtimeMs, bytes: json.size + bin.size };
      }),
    );
    aged.sort((a, b) => a.t - b.t);
    let bytes = aged.reduce((n, e) => n + e.bytes, 0);
    let count = aged.length;
    for (const { key, bytes: b } of aged) {
      if (count <= maxInline && bytes <= maxBytes) break;
      await Promise.all(['json', 'bin'].map((ext) => rm(path.join(dir, `${key}.${ext}`), { force: true })));
      count--;
      bytes -= b;
    }
  };
  const store = pairPromptCacheStore(`fs:${dir}`, {
    async get(name) {
      return readFile(path.join(dir, name)).then(
        (b) => new Uint8Array(b),
        (e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)),
      );
    },
    async put(name, bytes) {
      await mkdir(dir, { recursive: true });
      const tmp = path.join(dir, `${name}.${randomUUID()}.tmp`);
      await writeFile(tmp, bytes);
      await rename(tmp, path.join(dir, name));
    },
    async delete(names) {
      await Promise.all(names.map((n) => rm(path.join(dir, n), { force: true })));
    },
    list: () => readdir(dir).catch(() => []),
  });
  return {
    ...store,
    async put(key, entry) {
      await store.put(key, entry);
      if (key.startsWith('inline-')) await pruneInline();
    },
  };
}

/**
 * A model folder's prompt caches: those shipped in `<model>/prompts/` (read-only) behind the
 * per-user folder, or the shipped ones alone when there is no home folder to write to (inline
 * labels are then kept in memory only).
 */
export function modelPromptCache(dir: string): PromptCacheStore {
  const shipped = fsPromptCacheStore(path.join(dir, 'prompts'));
  const userDir = modelPromptCacheDir(dir);
  if (!userDir) return { ...shipped, name: `${shipped.name} (read-only)`, put: async () => {}, delete: async () => {} };
  return tieredPromptCacheStore(fsPromptCacheStore(userDir), shipped);
}
