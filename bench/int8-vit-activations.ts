// node --import tsx bench/int8-vit-activations.ts <model dir> [--images 16] [--rounds 5] [--batch-rounds 2]
//
// A ViT's int8 vision tower made two ways from its fp32 file, in one process:
//   per batch — DynamicQuantizeLinear: one activation range per tensor, i.e. per batch (the recipe so far);
//   per token — every MatMul's activation quantized with one range per token (PerTokenQuantizer) and the
//               patch Conv's pixels with one range per image (quant/per-image.ts), so no range spans images.
// For each: file size; the gate's cosine to fp32 (embedded in batches of 16, as `clip-edge quantize` does)
// and at batch 1; batch independence (each image embedded alone vs among 15 other images: min cosine,
// max |Δ|); onnxruntime-web WASM latency (1 thread) at batch 1 (each round: the median of 3 runs after a
// warm-up) and per image of one batch of 16, the variants interleaved round by round; median and fastest
// round, in wall time and in CPU time of this process (ORT's WASM runs on this thread: on a loaded machine
// CPU time is the steadier figure). Prints JSON; bench/results/int8-vit-activations.md has the tables.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readOnnx } from '../quantize/onnx/io.ts';
import { encodeModel } from '../quantize/onnx/model.ts';
import { passesFor, runPasses } from '../quantize/pipeline.ts';
import type { ActivationMode } from '../quantize/quant/per-image.ts';
import { loadVerifyData } from '../quantize/verify/data.ts';
import { rowCosines } from '../quantize/verify/metrics.ts';
import { openTower, type TowerSession } from '../quantize/verify/runner.ts';
import { nodeImageCodecs } from '../src/runtime/fs/codecs.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { images: { type: 'string' }, rounds: { type: 'string' }, 'batch-rounds': { type: 'string' } },
});
const dir = positionals[0] ?? 'models/tiny-clip';
const images = Number(args.images ?? 16);
const rounds = Number(args.rounds ?? 5);
const batchRounds = Number(args['batch-rounds'] ?? 2);
const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { embedDim: number; imageSize: number; preprocess: Parameters<typeof loadVerifyData>[0] };
const src = path.join(dir, 'onnx/vision_model.onnx');

const make = async (activations: ActivationMode) => {
  const g = (await readOnnx(src)).decode();
  const log: string[] = [];
  await runPasses(g, passesFor('int8', { int8: { activations } }), { where: src, tower: 'vision', log: (l) => log.push(l) });
  return { bytes: encodeModel(g), log };
};
const made = { 'per batch': await make('per-batch'), 'per token': await make('per-image') };
const data = await loadVerifyData(m.preprocess, { maxImages: images, imageCodecs: nodeImageCodecs() });
const inputs = { tower: 'vision' as const, pixels: data.images.map((i) => i.pixels), height: m.imageSize, width: m.imageSize };
const n = inputs.pixels.length;

const fp32 = await openTower({ bytes: new Uint8Array(readFileSync(src)) }, inputs, 'fp32', 16);
const ref = await fp32.embed();
await fp32.release();

const dim = m.embedDim;
const maxAbs = (a: Float32Array, b: Float32Array) => a.reduce((mx, v, i) => Math.max(mx, Math.abs(v - b[i]!)), 0);
const sessions: Record<string, { one: TowerSession; batch: TowerSession }> = {};
const quality: Record<string, unknown> = {};
for (const [k, v] of Object.entries(made)) {
  const one = await openTower({ bytes: v.bytes }, inputs, k, 1);
  const batch = await openTower({ bytes: v.bytes }, inputs, k, 16);
  sessions[k] = { one, batch };
  const [alone, among] = [await one.embed(), await batch.embed()];
  const c = (x: Float32Array) => { const s = rowCosines(ref, x, dim); return { mean: +s.mean.toFixed(6), min: +s.min.toFixed(6) }; };
  const ind = rowCosines(alone, among, dim);
  quality[k] = {
    bytes: v.bytes.byteLength,
    passes: v.log,
    gateCosineBatch16: c(among),
    cosineBatch1: c(alone),
    batchIndependence: { minCosine: ind.min, oneMinusMinCosine: 1 - ind.min, maxAbsDiff: maxAbs(alone, among) },
  };
}

// Interleaved timing: batch 1 and one batch of all the images at 16, round by round.
const ms: Record<string, { batch1: number[]; batch16: number[]; batch1Cpu: number[]; batch16Cpu: number[] }> = {};
const cpuMs = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
for (let r = 0; r < rounds; r++) {
  for (const [k, s] of Object.entries(sessions)) {
    const m = (ms[k] ??= { batch1: [], batch16: [], batch1Cpu: [], batch16Cpu: [] });
    const c0 = cpuMs();
    m.batch1.push(await s.one.latency(3));
    m.batch1Cpu.push((cpuMs() - c0) / 4); // latency(3): a warm-up run and 3 timed runs
  }
}
for (let r = 0; r < batchRounds; r++) {
  for (const [k, s] of Object.entries(sessions)) {
    const [t0, c0] = [performance.now(), cpuMs()];
    await s.batch.embed();
    ms[k]!.batch16.push((performance.now() - t0) / n);
    ms[k]!.batch16Cpu.push((cpuMs() - c0) / n);
  }
}
for (const s of Object.values(sessions)) await Promise.all([s.one.release(), s.batch.release()]);
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const min = (a: number[]) => Math.min(...a);
const latency = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, {
  batch1Ms: +med(v.batch1).toFixed(1), batch1MinMs: +min(v.batch1).toFixed(1), batch1CpuMs: +med(v.batch1Cpu).toFixed(1),
  batch16MsPerImage: +med(v.batch16).toFixed(1), batch16MinMsPerImage: +min(v.batch16).toFixed(1), batch16CpuMsPerImage: +med(v.batch16Cpu).toFixed(1), all: v,
}]));
const ratio = (f: 'batch1Ms' | 'batch1MinMs' | 'batch1CpuMs' | 'batch16MsPerImage' | 'batch16MinMsPerImage' | 'batch16CpuMsPerImage') => +(latency['per token']![f] / latency['per batch']![f]).toFixed(3);
console.log(JSON.stringify({
  model: path.basename(path.resolve(dir)),
  images: n,
  sources: data.sources,
  backend: 'onnxruntime-web WASM, 1 thread',
  measuredAt: new Date().toISOString(),
  loadAverage: os.loadavg()[0],
  cpu: `${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}`,
  quality,
  latency,
  ratios: { batch1Median: ratio('batch1Ms'), batch1Fastest: ratio('batch1MinMs'), batch1Cpu: ratio('batch1CpuMs'), batch16Median: ratio('batch16MsPerImage'), batch16Fastest: ratio('batch16MinMsPerImage'), batch16Cpu: ratio('batch16CpuMsPerImage'), size: +((quality['per token'] as { bytes: number }).bytes / (quality['per batch'] as { bytes: number }).bytes).toFixed(4) },
}, null, 1));
