// npm run bench:prepack [-- --model models/vit-b-32-random --runs 12]
//
// What onnxruntime-web's pre-packing buys on its WASM build (1 thread), and so what in-place
// loading gives up by turning it off (issue 28; docs/workers.md). Two parts, each run in one
// process with every session loaded first and their runs interleaved round by round, timed in CPU
// time of this process (one thread: robust against the other processes of a shared machine):
//   1. layers: 4 × MLP 768↔3072 on [1, 50, 768] (one ViT-B/32 image's tokens) in each form the
//      quantizer can write — float32 MatMul (the control: MLAS pre-packs float32 B), int8
//      DynamicQuantizeLinear + MatMulInteger (the int8 variant), com.microsoft DynamicQuantizeMatMul,
//      MatMulNBits 8-bit and 4-bit — each with pre-packing on and off;
//   2. model (`--model`, int8 vision tower): the `.onnx` copied with pre-packing on (Node's default)
//      and off, the `.ort` copied with pre-packing on, and the `.ort` in place (what the Worker runs);
//      wasm memory of each measured in a child process of its own (it never shrinks).
// Run with --no-liftoff (the npm script does): V8 otherwise runs wasm in its baseline compiler until
// the hot functions are tiered up, which no fixed warm-up bounds (bench/lib/case.ts).
// Writes bench/results/prepack.{md,json}.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-web';
import type { OrtModule, SessionLike } from '../src/core/backend.ts';
import { createInPlaceLoader } from '../src/core/ort/wasm/in-place.ts';
import { wrappedInstances } from '../src/core/ort/wasm/instance.ts';
import { wasmBackend } from '../src/runtime/fs/ort.ts';
import { cosine } from '../src/core/zeroshot.ts';
import { buildModel, node } from '../quantize/onnx/build.ts';
import { DT, encodeModel, tensorProto, type ModelProto, type NodeProto, type TensorProto } from '../quantize/onnx/model.ts';
import { bytesOf, floatTensor } from '../quantize/onnx/tensor.ts';
import { int8MatMulPass } from '../quantize/passes/int8-matmul.ts';
import { q4MatMulPass } from '../quantize/passes/q4-matmul.ts';
import { runPasses } from '../quantize/pipeline.ts';
import { int8PerColumn } from '../quantize/quant/math.ts';
import { ROOT } from './lib/case.ts';
import { cpuModel } from './lib/system.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/vit-b-32-random' },
    runs: { type: 'string', default: '12' },
    /** Internal: measure one model configuration's wasm memory and print it. */
    child: { type: 'string' },
  },
});
const RUNS = Number(args.runs);
const MODEL = path.resolve(ROOT, args.model!);
const RESULTS = path.join(ROOT, 'bench/results/prepack');

const D = 768;
const H = 3072;
const LAYERS = 4;

function rand(n: number, scale: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    a[i] = (x / 2 ** 32 - 0.5) * 2 * scale;
  }
  return a;
}

/** 4 × (768→3072, 3072→768); `layer` writes one MatMul of the stack in a given form. */
function mlpStack(layer?: (x: string, y: string, l: number, w: Float32Array, K: number, N: number, inits: TensorProto[]) => NodeProto[]): ModelProto {
  const inits: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  let x = 'x';
  for (let l = 0; l < LAYERS * 2; l++) {
    const [K, N] = l % 2 ? [H, D] : [D, H];
    const w = rand(K * N, 0.02, l + 1);
    const y = `h${l}`;
    if (layer) nodes.push(...layer(x, y, l, w, K, N, inits));
    else {
      inits.push(floatTensor(`w${l}`, [K, N], w));
      nodes.push(node({ op: 'MatMul', inputs: [x, `w${l}`], outputs: [y] }));
    }
    x = y;
  }
  nodes.push(node({ op: 'Identity', inputs: [x], outputs: ['y'] }));
  return buildModel({
    inputs: [{ name: 'x', elemType: DT.FLOAT, shape: ['b', 'm', D] }],
    outputs: [{ name: 'y', elemType: DT.FLOAT, shape: ['b', 'm', D] }],
    nodes,
    initializers: inits,
  });
}

/** One com.microsoft DynamicQuantizeMatMul per layer: the fused form of what the int8 pass writes. */
const dynamicQuantizeMatMul = () =>
  mlpStack((x, y, l, w, K, N, inits) => {
    const { q, scale } = int8PerColumn(w, K, N);
    inits.push(tensorProto(`w${l}`, DT.INT8, [K, N], bytesOf(q)), floatTensor(`s${l}`, [N], scale));
    return [node({ op: 'DynamicQuantizeMatMul', domain: 'com.microsoft', inputs: [x, `w${l}`, `s${l}`], outputs: [y] })];
  });

const withPasses = async (m: ModelProto, passes: Parameters<typeof runPasses>[1]) => (await runPasses(m, passes, { where: 'bench', log: () => {} })).model;

const FORMS: [string, () => ModelProto | Promise<ModelProto>][] = [
  ['float32 MatMul (control)', () => mlpStack()],
  ['int8: DynamicQuantizeLinear + MatMulInteger (the int8 variant)', () => withPasses(mlpStack(), [int8MatMulPass()])],
  ['int8: com.microsoft DynamicQuantizeMatMul', dynamicQuantizeMatMul],
  ['8-bit: MatMulNBits block 32', () => withPasses(mlpStack(), [q4MatMulPass({ bits: 8 })])],
  ['4-bit: MatMulNBits block 32', () => withPasses(mlpStack(), [q4MatMulPass()])],
];

const sessionOptions = (prepack: boolean) => ({
  executionProviders: ['wasm'],
  graphOptimizationLevel: 'all',
  ...(prepack ? {} : { extra: { session: { disable_prepacking: '1' } } }),
});

interface Timed {
  name: string;
  session: SessionLike;
  cpuMs: number[];
  out?: Float32Array;
}

const cpuMs = (since: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
};

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;

/** Two warm-up runs each, then `RUNS` rounds, every session once a round (order alternating). */
async function interleave(all: Timed[], feeds: Record<string, ort.Tensor>, output: string): Promise<void> {
  for (const t of all) {
    t.out = (await t.session.run(feeds))[output]!.data as Float32Array;
    await t.session.run(feeds);
  }
  for (let r = 0; r < RUNS; r++) {
    // Every other round in reverse order, so that no session always runs right after the same one.
    for (const t of r % 2 ? [...all].reverse() : all) {
      const c = process.cpuUsage();
      await t.session.run(feeds);
      t.cpuMs.push(cpuMs(c));
    }
    process.stderr.write(`\r  round ${r + 1} / ${RUNS}`);
  }
  process.stderr.write('\n');
}

interface LayerRow { form: string; onMs: number; offMs: number; offOverOn: number; cosineVsFp32: number }

async function layers(): Promise<LayerRow[]> {
  console.error(`layers: ${LAYERS} × MLP ${D}↔${H} on [1, 50, ${D}], each form with pre-packing on and off`);
  const all: Timed[] = [];
  for (const [form, make] of FORMS) {
    const bytes = encodeModel(await make());
    for (const prepack of [true, false]) all.push({ name: `${form}|${prepack}`, session: (await ort.InferenceSession.create(bytes, sessionOptions(prepack) as object)) as unknown as SessionLike, cpuMs: [] });
  }
  await interleave(all, { x: new ort.Tensor('float32', rand(50 * D, 1, 7), [1, 50, D]) }, 'y');
  const ref = all[0]!.out!;
  const rows = FORMS.map(([form], i) => {
    const [on, off] = [all[2 * i]!, all[2 * i + 1]!];
    return { form, onMs: median(on.cpuMs), offMs: median(off.cpuMs), offOverOn: median(off.cpuMs) / median(on.cpuMs), cosineVsFp32: cosine(ref, on.out!) };
  });
  for (const t of all) await t.session.release?.();
  return rows;
}

interface ModelConfig { name: string; file: string; prepack: boolean; inPlace: boolean }

const modelConfigs = (): ModelConfig[] => [
  { name: '.onnx copied, pre-packing on (onnxruntime-web default)', file: 'onnx/vision_model_int8.onnx', prepack: true, inPlace: false },
  { name: '.onnx copied, pre-packing off', file: 'onnx/vision_model_int8.onnx', prepack: false, inPlace: false },
  { name: '.ort copied, pre-packing on', file: 'onnx/vision_model_int8.ort', prepack: true, inPlace: false },
  { name: '.ort in place (pre-packing off: the Worker)', file: 'onnx/vision_model_int8.ort', prepack: false, inPlace: true },
];

async function open(c: ModelConfig): Promise<SessionLike> {
  const bytes = new Uint8Array(readFileSync(path.join(MODEL, c.file)));
  if (!c.inPlace) return (await ort.InferenceSession.create(bytes, sessionOptions(c.prepack) as object)) as unknown as SessionLike;
  const loader = await createInPlaceLoader(ort as unknown as OrtModule);
  return loader.createSession({ size: bytes.length, body: [bytes] }, { where: c.file, sessionOptions: { executionProviders: ['wasm'], graphOptimizationLevel: 'all' } });
}

const pixels = () => new ort.Tensor('float32', Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i * 0.013 + 1)), [1, 3, 224, 224]);

interface ModelRow { config: string; cpuMsPerImage: number; overPrepacked: number; wasmMiB: number; equalToFirst: boolean }

async function model(): Promise<ModelRow[]> {
  const configs = modelConfigs();
  console.error(`model: ${path.relative(ROOT, MODEL)} int8 vision, batch 1`);
  // Memory first, each in a process of its own (ORT's wasm memory never shrinks).
  const mib = configs.map((_, i) => Number(execFileSync(process.execPath, [...process.execArgv, path.join(ROOT, 'bench/prepack.ts'), '--model', MODEL, '--child', String(i)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim()));
  const all: Timed[] = [];
  for (const c of configs) all.push({ name: c.name, session: await open(c), cpuMs: [] });
  await interleave(all, { pixel_values: pixels() }, 'image_embeds');
  const base = median(all[0]!.cpuMs);
  const rows = all.map((t, i) => ({
    config: t.name,
    cpuMsPerImage: median(t.cpuMs),
    overPrepacked: median(t.cpuMs) / base,
    wasmMiB: mib[i]!,
    equalToFirst: t.out!.every((v, j) => v === all[0]!.out![j]),
  }));
  for (const t of all) await t.session.release?.();
  return rows;
}

/** Child: one configuration loaded and run once; prints ORT's wasm memory in MiB. */
async function child(i: number): Promise<void> {
  const s = await open(modelConfigs()[i]!);
  await s.run({ pixel_values: pixels() });
  process.stdout.write(`${(wrappedInstances()[0]!.memory.buffer.byteLength / 2 ** 20).toFixed(1)}\n`);
}

function report(layerRows: LayerRow[], modelRows: ModelRow[]): void {
  const f = (x: number, d = 1) => x.toFixed(d);
  const md = [
    '# Pre-packing in onnxruntime-web WASM: what in place gives up',
    '',
    `\`npm run bench:prepack -- --model ${path.relative(ROOT, MODEL)} --runs ${RUNS}\` (bench/prepack.ts) on ${hostname()} (${cpus().length} × ${cpuModel()}),`,
    `Node ${process.versions.node} --no-liftoff, onnxruntime-web ${ort.env.versions.web} WASM, 1 thread, ${new Date().toISOString().slice(0, 10)}.`,
    'CPU time of the process per run (median of the rounds; every session of a part loaded first and run once a round, interleaved, the order reversed every other round).',
    '',
    `## Layers: ${LAYERS} × MLP ${D}↔${H}, [1, 50, ${D}] (one image's tokens)`,
    '',
    '| form | CPU ms, pre-packing on | off | off / on | cosine vs float32 |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...layerRows.map((r) => `| ${r.form} | ${f(r.onMs)} | ${f(r.offMs)} | ${f(r.offOverOn, 2)} | ${f(r.cosineVsFp32, 5)} |`),
    '',
    ...(modelRows.length
      ? [
          `## Model: ${path.basename(MODEL)} int8 vision tower, batch 1`,
          '',
          '| configuration | CPU ms / image | × first row | ORT wasm memory after load + 1 run (MiB, own process) | outputs equal to first row |',
          '| --- | ---: | ---: | ---: | --- |',
          ...modelRows.map((r) => `| ${r.config} | ${f(r.cpuMsPerImage)} | ${f(r.overPrepacked, 2)} | ${f(r.wasmMiB)} | ${r.equalToFirst ? 'yes, exactly' : 'no'} |`),
          '',
        ]
      : []),
  ].join('\n');
  writeFileSync(`${RESULTS}.json`, `${JSON.stringify({ measuredAt: new Date().toISOString(), runs: RUNS, layers: layerRows, model: modelRows }, null, 1)}\n`);
  writeFileSync(`${RESULTS}.md`, md);
  console.log(md);
}

async function main(): Promise<void> {
  // The kit's WASM backend starts ORT through the instantiate shim, which in-place sessions need.
  await wasmBackend({ inPlace: true, threads: 1 }).init();
  if (args.child !== undefined) return child(Number(args.child));
  const layerRows = await layers();
  const modelRows = existsSync(path.join(MODEL, 'onnx/vision_model_int8.ort')) ? await model() : [];
  report(layerRows, modelRows);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
