// npm run bench:residual-fusion -- <vision .onnx> --dims N,C,H,W [--from TENSOR] [--to TENSOR] [--growth] [--runs N]
//
// What quantize/passes/fuse-residual.ts saves: the ORT heap (onnxruntime-web's WASM build in Node, the
// kit's exact heap growth) of a slice of a CNN vision tower, from tensor --from to tensor --to (single-
// tensor cut points, as `quantize --split --cut-at` takes them; default: the whole file), once with its
// float32 residual joins as exported and once fused — each in a fresh process (wasm memory never shrinks,
// so one process per measurement). Per run: ORT's heap after creating the session (copied from the
// .onnx bytes) and after one batch-1 run on fixed non-negative input of --dims (the slice's input, e.g.
// RN50x64's `layer1` at 448 px: 1,128,112,112 after the stem, 1,512,112,112 between its blocks), its
// time, and the largest |difference| between the two outputs. Prints JSON and a Markdown row; the table
// is bench/results/residual-fusion.md. With --growth the slice is not fused: it runs once with Emscripten's
// heap growth (≥ 20 % per step) and once with the kit's exact growth (src/core/ort/wasm/instance.ts).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: 'string' }, dims: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, child: { type: 'string' }, out: { type: 'string' }, growth: { type: 'boolean' }, emscripten: { type: 'boolean' } },
});
const dims = (args.dims ?? '').split(',').map(Number);
if (!dims.length || !dims.every((d) => Number.isInteger(d) && d > 0)) throw new Error('--dims N,C,H,W (the slice input\'s shape) is required');
const MiB = 2 ** 20;

/** Child: loads `file`, runs it once, reports ORT's heap. */
async function child(file: string, out: string): Promise<void> {
  const { wasmBackend } = await import('../src/runtime/fs/ort.ts');
  const { wrappedInstances } = await import('../src/core/ort/wasm/instance.ts');
  const backend = wasmBackend({ exactGrowth: !args.emscripten });
  await backend.init();
  const heap = () => wrappedInstances()[0]!.memory.buffer.byteLength;
  const session = await backend.createSession(new Uint8Array(readFileSync(file)));
  const loaded = heap();
  const n = dims.reduce((a, b) => a * b, 1);
  let seed = 7;
  const x = Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2);
  // The first run (ORT's heap grows to its high-water mark; V8 still tiering up) and, with --runs N, the fastest of N.
  const times: number[] = [];
  let r!: Awaited<ReturnType<typeof session.run>>;
  for (let k = 0; k < Math.max(1, Number(args.runs ?? 1)); k++) {
    const t0 = performance.now();
    r = await session.run({ [session.inputNames[0]!]: backend.tensor('float32', x, dims) }, [session.outputNames[0]!]);
    times.push(performance.now() - t0);
  }
  const ms = times[0]!;
  const fastestMs = Math.min(...times);
  const y = r[session.outputNames[0]!]!.data as Float32Array;
  writeFileSync(out, new Uint8Array(y.buffer, y.byteOffset, y.byteLength));
  console.log(JSON.stringify({ loaded, run: heap(), ms: Math.round(ms), fastestMs: Math.round(fastestMs), runs: times.map(Math.round), exactGrowth: wrappedInstances()[0]!.exactGrowth, outDims: r[session.outputNames[0]!]!.dims }));
}

async function main(): Promise<void> {
  const { readOnnx } = await import('../quantize/onnx/io.ts');
  const { encodeModel } = await import('../quantize/onnx/model.ts');
  const { Graph } = await import('../quantize/graph/graph.ts');
  const { findCuts } = await import('../quantize/split/cuts.ts');
  const { extractParts } = await import('../quantize/split/extract.ts');
  const { fuseResiduals } = await import('../quantize/passes/fuse-residual.ts');
  const file = positionals[0];
  if (!file) throw new Error('usage: npm run bench:residual-fusion -- <vision .onnx> --dims N,C,H,W [--from T] [--to T]');
  const slice = async () => {
    const model = (await readOnnx(file)).decode();
    const named = [args.from, args.to].filter((t): t is string => !!t);
    if (!named.length) return model;
    const cuts = findCuts(new Graph(model), file).filter((c) => named.includes(c.tensor));
    if (cuts.length !== named.length) throw new Error(`${named.join(', ')}: not all are cut points of ${file}`);
    const parts = extractParts(model, cuts, file);
    return parts[args.from ? 1 : 0]!.model;
  };
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'clip-edge-fusion-'));
  try {
    const plain = await slice();
    const fused = await slice();
    const joins = args.growth ? 0 : fuseResiduals(new Graph(fused));
    const runs = args.growth
      ? ([['Emscripten growth', plain, true], ['exact growth', plain, false]] as const)
      : ([['as exported', plain, false], ['fused', fused, false]] as const);
    const rows: Record<string, { loaded: number; run: number; ms: number; fastestMs: number; runs: number[]; exactGrowth: boolean; outDims: number[] }> = {};
    const outputs: Record<string, Float32Array> = {};
    for (const [k, m, emscripten] of runs) {
      const f = path.join(tmp, `${k.replace(/\W/g, '')}.onnx`);
      const o = `${f}.out`;
      writeFileSync(f, encodeModel(m));
      const r = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', f, '--out', o, '--dims', dims.join(','), '--runs', String(args.runs ?? 1), ...(emscripten ? ['--emscripten'] : [])], { encoding: 'utf8', maxBuffer: 1 << 26 });
      if (r.status !== 0) throw new Error(`${k}: ${r.stderr}`);
      rows[k] = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      const b = readFileSync(o);
      outputs[k] = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    }
    const [ka, kb] = [runs[0][0], runs[1][0]];
    const a = outputs[ka]!;
    const b = outputs[kb]!;
    let maxAbs = 0;
    let scale = 0;
    for (let i = 0; i < a.length; i++) {
      maxAbs = Math.max(maxAbs, Math.abs(a[i]! - b[i]!));
      scale = Math.max(scale, Math.abs(a[i]!));
    }
    const mib = (x: number) => (x / MiB).toFixed(1);
    const [p, f] = [rows[ka]!, rows[kb]!];
    const result = { compared: [ka, kb], file, from: args.from ?? null, to: args.to ?? null, dims, joinsFused: joins, rows, maxAbsDiff: maxAbs, maxAbsOutput: scale, load: os.loadavg()[0]!.toFixed(1), measuredAt: new Date().toISOString() };
    console.log(JSON.stringify(result, null, 1));
    console.log(
      `| ${path.basename(path.dirname(path.dirname(file)))} ${args.from ?? 'input'} → ${args.to ?? 'output'} | ${dims.join('×')} | ${joins} | ${mib(p.loaded)} → **${mib(p.run)}** | ${mib(f.loaded)} → **${mib(f.run)}** | ${(f.run / p.run).toFixed(3)} | ${p.ms}, ${f.ms}${args.runs ? ` (fastest of ${args.runs}: ${p.fastestMs}, ${f.fastestMs})` : ''} | ${maxAbs.toExponential(1)} (of ${scale.toFixed(1)}) |`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

await (args.child ? child(args.child, args.out!) : main());
