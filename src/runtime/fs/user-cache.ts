import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import path from 'node:path';

/**
 * The user's home folder, or undefined when none can be read. `$HOME` (`%USERPROFILE%` on Windows)
 * first: it is what `os.homedir()` returns on Node, and Deno lets `--allow-env` read it, whereas
 * Deno's `os.homedir()` needs `--allow-sys` and throws NotCapable without it.
 */
export function userHome(env: Record<string, string | undefined> = process.env): string | undefined {
  const fromEnv = env.HOME || env.USERPROFILE;
  if (fromEnv) return fromEnv;
  try {
    return homedir() || undefined;
  } catch {
    return undefined; // Deno without --allow-sys, or a user without a home folder
  }
}

/**
 * The writable per-user prompt-cache folder: `$CLIP_EDGE_PROMPT_CACHE`, else
 * `~/.cache/clip-edge/prompts`; undefined when there is no home folder to put it in.
 */
export function userPromptCacheDir(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.CLIP_EDGE_PROMPT_CACHE) return env.CLIP_EDGE_PROMPT_CACHE;
  const home = userHome(env);
  return home ? path.join(home, '.cache', 'clip-edge', 'prompts') : undefined;
}

/**
 * The per-user prompt-cache folder of one model folder, `<userPromptCacheDir>/<folder name>-<hash of
 * its path>` (two folders with the same name must not share, and overwrite, caches); the kit reads
 * it in front of the caches shipped in `<model>/prompts/`. Undefined with no home folder.
 */
export function modelPromptCacheDir(modelDir: string, env: Record<string, string | undefined> = process.env): string | undefined {
  const userDir = userPromptCacheDir(env);
  const dir = path.resolve(modelDir);
  return userDir ? path.join(userDir, `${path.basename(dir)}-${createHash('sha256').update(dir).digest('hex').slice(0, 12)}`) : undefined;
}

/** Whether a folder lies inside an installed package (a `node_modules` folder): never written to. */
export const isInstalledPath = (dir: string): boolean => path.resolve(dir).split(path.sep).includes('node_modules');
