// npm run workers:split-config -- --model models/<id> [--variant int8] [--out wrangler.split/<id>]
// Writes the wrangler configs of a vision tower split across Workers (`clip-edge quantize <dir>
// --split int8`): one part Worker per part (from wrangler.vision-part.toml: its name, part number
// and NEXT_PART binding), and the vision Worker (wrangler.toml with CLIP_EDGE_MODEL set and the
// VISION_PARTS binding to part 1). Deploy the last part first, then the others down to part 1, then
// the vision Worker (each service binding needs its target); docs/workers.md shows the commands.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readModelInfo } from '../src/core/model/info.ts';
import { isPrecision } from '../src/core/precision.ts';
import { splitVariantOf, visionPartsOf } from '../src/core/vision-parts.ts';
import { fsModelSource } from '../src/runtime/fs/model-source.ts';
import { WORKERS_VARIANT_ORDER } from '../src/runtime/workers/variants.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface SplitConfigOptions {
  /** wrangler.toml's text (the vision Worker). */
  visionToml: string;
  /** wrangler.vision-part.toml's text (the template of every part Worker). */
  partToml: string;
  /** CLIP_EDGE_MODEL of every Worker: the folder's name in R2. */
  model: string;
  parts: number;
  /** Rewrites a repository-relative path (`main`, `[assets] directory`) for where the configs are written. @defaultValue unchanged */
  rel?: (repoPath: string) => string;
  /** The vision Worker's `main` (repository-relative). @defaultValue its own */
  visionMain?: string;
}

const nameOf = (toml: string) => /^name = "([^"]+)"/m.exec(toml)?.[1] ?? 'clip-edge';
const setVar = (toml: string, key: string, value: string) => {
  const re = new RegExp(`^${key} = .*$`, 'm');
  if (!re.test(toml)) throw new Error(`the config has no ${key} line under [vars]`);
  return toml.replace(re, `${key} = "${value}"`);
};

/** The configs' texts: the vision Worker's, then part 1's … part N's. Pure (tested in test/workers/node/scripts.test.ts). */
export function splitConfigs(o: SplitConfigOptions): { vision: string; parts: string[] } {
  const rel = o.rel ?? ((p: string) => p);
  const base = nameOf(o.visionToml);
  const partName = (k: number) => `${base}-vision-part-${k}`;
  const parts = Array.from({ length: o.parts }, (_, i) => {
    const k = i + 1;
    let t = o.partToml
      .replace(/^name = .*$/m, `name = "${partName(k)}"`)
      .replace(/^main = "([^"]+)"$/m, (_, m: string) => `main = "${rel(m)}"`);
    t = setVar(setVar(t, 'CLIP_EDGE_MODEL', o.model), 'CLIP_EDGE_VISION_PART', String(k));
    return k < o.parts
      ? t.replace(/^service = "[^"]*-vision-part-\d+"$/m, `service = "${partName(k + 1)}"`)
      : t.replace(/\n# The next part[^\n]*\n\[\[services\]\]\nbinding = "NEXT_PART"\n[^\n]*\n[^\n]*\n?/, '\n# The last part: no NEXT_PART, it answers.\n');
  });
  const vision = `${setVar(o.visionToml, 'CLIP_EDGE_MODEL', o.model)
    .replace(/^main = "([^"]+)"$/m, (_, m: string) => `main = "${rel(o.visionMain ?? m)}"`)
    .replace(/^directory = "([^"]+)"$/m, (_, d: string) => `directory = "${rel(d)}"`)
    .trimEnd()}

# The vision tower split across ${o.parts} part Workers (scripts/workers-split-config.ts): this Worker
# decodes and preprocesses, part 1 runs first and calls the next; the last answers the embedding.
[[services]]
binding = "VISION_PARTS"
service = "${partName(1)}"
entrypoint = "VisionPart"
`;
  if (parts.some((p, i) => i < o.parts - 1 && !p.includes(`service = "${partName(i + 2)}"`)) || /binding = "NEXT_PART"/.test(parts.at(-1)!)) {
    throw new Error('wrangler.vision-part.toml no longer has the NEXT_PART block this script rewrites');
  }
  return { vision, parts };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { model: { type: 'string' }, variant: { type: 'string' }, out: { type: 'string' } } });
  if (!values.model) throw new Error('--model <folder> is required (a folder split with clip-edge quantize <dir> --split int8)');
  const dir = path.resolve(values.model);
  const id = path.basename(dir);
  const info = await readModelInfo(fsModelSource(dir));
  const wanted = values.variant ?? 'auto';
  if (wanted !== 'auto' && !isPrecision(wanted)) throw new Error(`--variant takes int8, q8, … or auto, got ${wanted}`);
  const parts = visionPartsOf(info, splitVariantOf(info, wanted, WORKERS_VARIANT_ORDER)).length;
  const out = path.resolve(values.out ?? path.join(ROOT, 'wrangler.split', id));
  mkdirSync(out, { recursive: true });
  const rel = (p: string) => path.relative(out, path.join(ROOT, p)).split(path.sep).join('/');
  const c = splitConfigs({ visionToml: readFileSync(path.join(ROOT, 'wrangler.toml'), 'utf8'), partToml: readFileSync(path.join(ROOT, 'wrangler.vision-part.toml'), 'utf8'), model: id, parts, rel });
  const files = [['wrangler.toml', c.vision], ...c.parts.map((t, i) => [`wrangler.vision-part-${i + 1}.toml`, t])] as const;
  for (const [name, text] of files) writeFileSync(path.join(out, name), text);
  const r = (f: string) => path.relative(process.cwd(), path.join(out, f));
  console.log(`wrote ${files.length} configs to ${path.relative(process.cwd(), out) || '.'} (${parts} parts). Deploy, last part first:`);
  for (let k = parts; k >= 1; k--) console.log(`  npx wrangler deploy -c ${r(`wrangler.vision-part-${k}.toml`)}`);
  console.log(`  npx wrangler deploy -c ${r('wrangler.toml')}`);
  console.log(`Locally: npx wrangler dev --local ${files.map(([f]) => `-c ${r(f)}`).join(' ')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
