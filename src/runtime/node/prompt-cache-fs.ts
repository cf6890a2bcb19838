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
}

/** Prompt caches as `<dir>/<key>.json` (header) + `<dir>/<key>.bin` (matrix), written atomically. */
export function fsPromptCacheStore(dir: string, options: FsPromptCacheOptions = {}): PromptCacheStore {
  const maxInline = options.maxInlineEntries ?? 2000;
  const pruneInline = async () => {
    const names = (await readdir(dir)).filter((f) => f.startsWith('inline-') && f.endsWith('.json'));
    if (names.length <= maxInline) return;
    const aged = await Promise.all(names.map(async (f) => ({ key: f.slice(0, -5), t: (await stat(path.join(dir, f)).catch(() => undefined))?.mtimeMs ?? 0 })));
    aged.sort((a, b) => a.t - b.t);
    for (const { key } of aged.slice(0, names.length - maxInline)) {
      await Promise.all(['json', 'bin'].map((ext) => rm(path.join(dir, `${key}.${ext}`), { force: true })));
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
