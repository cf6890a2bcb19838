import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ClipEdgeError } from '../../core/errors.ts';
import type { PromptCacheEntry, PromptCacheHeader } from '../../core/prompt-cache/format.ts';
import { type PromptCacheStore, STORE_KEY } from '../../core/prompt-cache/store.ts';

const checkKey = (key: string) => {
  if (!STORE_KEY.test(key)) throw new ClipEdgeError('BAD_INPUT', `invalid prompt cache key "${key.slice(0, 40)}"`);
};

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

/** Prompt caches as `<dir>/<key>.json` (header) + `<dir>/<key>.bin` (matrix), written atomically. */
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
  const file = (key: string, ext: string) => path.join(dir, `${key}.${ext}`);
  return {
    name: `fs:${dir}`,
    async get(key) {
      checkKey(key);
      let json: string;
      let data: Uint8Array;
      try {
        [json, data] = await Promise.all([readFile(file(key, 'json'), 'utf8'), readFile(file(key, 'bin')).then((b) => new Uint8Array(b))]);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
      let header: PromptCacheHeader;
      try {
        header = JSON.parse(json) as PromptCacheHeader;
      } catch (cause) {
        throw new ClipEdgeError('INTEGRITY_MISMATCH', `stale or corrupt prompt cache: ${key}.json is not JSON`, { cause });
      }
      return { header, data };
    },
    async put(key, entry: PromptCacheEntry) {
      checkKey(key);
      await mkdir(dir, { recursive: true });
      const tag = `${randomUUID()}.tmp`;
      // Matrix first, header last: a reader that sees the new header also sees its matrix.
      await writeFile(`${file(key, 'bin')}.${tag}`, entry.data);
      await writeFile(`${file(key, 'json')}.${tag}`, `${JSON.stringify(entry.header, null, 1)}\n`);
      await rename(`${file(key, 'bin')}.${tag}`, file(key, 'bin'));
      await rename(`${file(key, 'json')}.${tag}`, file(key, 'json'));
      if (key.startsWith('inline-')) await pruneInline();
    },
    async delete(key) {
      checkKey(key);
      await Promise.all(['json', 'bin'].map((ext) => rm(file(key, ext), { force: true })));
    },
    async keys() {
      try {
        return (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).filter((k) => STORE_KEY.test(k)).sort();
      } catch {
        return [];
      }
    },
  };
}
