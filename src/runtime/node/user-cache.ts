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
