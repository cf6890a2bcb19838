// node --import tsx bench/int8-resnet-latency.ts models/rn50-random [runs]: batch-1 WASM latency (1 thread) of the
// fp32 vision tower and of int8 made three ways (per batch = the recipe before; per image with the leading Convs
// float32 = the default; per image, every Conv int8), interleaved in one process; bench/results/int8-resnet.md.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readOnnx } from '../quantize/onnx/io.ts';
import { encodeModel } from '../quantize/onnx/model.ts';
import { runPasses, passesFor } from '../quantize/pipeline.ts';
import { openTower } from '../quantize/verify/runner.ts';
import { loadVerifyData } from '../quantize/verify/data.ts';
import { nodeImageCodecs } from '../src/runtime/fs/codecs.ts';
const dir = process.argv[2]!; const runs = Number(process.argv[3] ?? 3);
const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
const src = path.join(dir, 'onnx/vision_model.onnx');
const make = async (activations?: 'per-batch', leadingFloat?: number) => { const g = (await readOnnx(src)).decode(); await runPasses(g, passesFor('int8', { int8: { activations, leadingFloat } }), { where: 'x', tower: 'vision', log: () => {} }); return encodeModel(g); };
const variants: Record<string, Uint8Array> = { fp32: new Uint8Array(readFileSync(src)), 'int8 per-batch (before)': await make('per-batch'), 'int8 per-image, leading fp32 (now)': await make(), 'int8 per-image, all int8': await make(undefined, 0) };
const data = await loadVerifyData(m.preprocess, { maxImages: 1, imageCodecs: nodeImageCodecs(), sharedDataDir: null });
const inputs = { tower: 'vision' as const, pixels: [data.images[0]!.pixels], height: m.imageSize, width: m.imageSize };
const sessions = Object.fromEntries(await Promise.all(Object.entries(variants).map(async ([k, b]) => [k, await openTower({ bytes: b }, inputs, k, 1)] as const)));
const ms: Record<string, number[]> = {};
for (let r = 0; r < runs; r++) for (const [k, s] of Object.entries(sessions)) (ms[k] ??= []).push(await s.latency(1));
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
const out = { model: path.basename(dir), backend: 'onnxruntime-web WASM, 1 thread, batch 1', runs, loadAverage: os.loadavg()[0], cpu: os.cpus()[0]?.model, medianMs: Object.fromEntries(Object.entries(ms).map(([k, a]) => [k, Math.round(med(a))])), all: ms };
console.log(JSON.stringify(out));
