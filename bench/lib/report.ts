// The bench's report: JSON result → markdown tables (with clip-edge / peer ratios and the targets)
// and SVG charts. Pure functions, so the README can be regenerated from a stored result.
import type { ClassifyResult } from '../cases/classify.ts';
import type { CosineStats } from '../cases/crosscheck.ts';
import type { PreprocessResult } from '../cases/preprocess.ts';
import type { ThroughputLevel } from '../cases/throughput.ts';
import { type BarChart, barChartSvg } from './svg.ts';
import type { Summary } from './stats.ts';

export interface ClassifyEntry extends ClassifyResult {
  backend: 'wasm' | 'node';
  dtype: string;
  labels: number;
  threads: number;
}

export interface VisionEntry {
  backend: 'wasm' | 'node' | 'workerd';
  threads: number;
  variant: string;
  forward?: Summary;
  sessionMs?: number;
  rssMiB?: number;
  rssGrowthMiB?: number;
  wasmHeapMiB?: number;
  fileMiB?: number;
  skipped?: string;
}

export interface ColdStartEntry {
  runtime: string;
  backend: string;
  variant: string;
  request: string;
  listenMs?: number;
  readyMs?: number;
  firstAnswerMs: number;
  warm: Summary;
  command: string;
}

export interface BenchResult {
  benchmark: 'clip-edge-vs-peers';
  date: string;
  command: string;
  profile: string;
  model: { id: string; dir: string; embedDim: number; variants: Record<string, { vision?: number; text?: number }> };
  machine: Record<string, unknown>;
  versions: Record<string, string>;
  threads: number[];
  /** V8 flags of the case processes. */
  v8Flags: string[];
  photos: { source: string; count: number };
  template: string;
  classify: ClassifyEntry[];
  vision: VisionEntry[];
  preprocess?: PreprocessResult;
  crosscheck?: { image: CosineStats; imageSamePixels: CosineStats; text: CosineStats };
  throughput: { backend: string; variant: string; maxBatch: number; command: string; levels: ThroughputLevel[] }[];
  coldStart: ColdStartEntry[];
  /** Figures measured by the other benches (prompt-cache, quantize), linked rather than re-measured. */
  linked: { promptCache?: { file: string; classifyWithCacheMs: number; encodedMs: Record<string, number> }; quantize?: string };
  errors: string[];
  wallSeconds: number;
}

const ms = (x: number | undefined) => (x === undefined ? '—' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : x >= 10 ? `${x.toFixed(0)} ms` : `${x.toFixed(1)} ms`);
const sm = (s: Summary | undefined) => (s ? `${ms(s.medianMs)} (p90 ${ms(s.p90Ms)})` : '—');
const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
const rf = (r: number | undefined) => (r === undefined ? '—' : `**${r.toFixed(2)}×**`);
const verdict = (r: number | undefined, target: number | undefined) => (r === undefined || target === undefined ? '' : r <= target ? `≤ ${target}× ✅ met` : `≤ ${target}× ❌ missed`);
const backendName = (b: string, threads: number) => (b === 'wasm' ? `ORT-web WASM ${threads} thr` : b === 'node' ? `onnxruntime-node ${threads} thr` : b);

export const visionOf = (r: BenchResult, backend: string, threads: number, variant: string) =>
  r.vision.find((v) => v.backend === backend && (backend === 'workerd' || v.threads === threads) && v.variant === variant);

/** The headline rows: each clip-edge figure against its peer, with the issue's targets. */
export function headline(r: BenchResult): { measure: string; ours?: Summary; peer?: Summary; peerName: string; ratio?: number; target?: number }[] {
  const rows: ReturnType<typeof headline> = [];
  for (const c of r.classify) {
    rows.push({
      measure: `classify, ${c.labels} labels, ${backendName(c.backend, c.threads)}, ${c.dtype}`,
      ours: c.clipEdge.steady,
      peer: c.peer.steady,
      peerName: 'transformers.js pipeline',
      ratio: ratio(c.clipEdge.steady.medianMs, c.peer.steady.medianMs),
      target: c.labels <= 10 ? 0.5 : 0.1,
    });
  }
  const fp32 = visionOf(r, 'wasm', 1, 'fp32');
  const int8 = visionOf(r, 'wasm', 1, 'int8');
  const native = visionOf(r, 'node', 1, 'fp32');
  if (fp32?.forward && int8?.forward) {
    rows.push({ measure: 'vision forward, int8 vs fp32, ORT-web WASM 1 thr', ours: int8.forward, peer: fp32.forward, peerName: 'fp32, same backend', ratio: ratio(int8.forward.medianMs, fp32.forward.medianMs), target: 0.6 });
  }
  if (int8?.forward && native?.forward) {
    rows.push({ measure: 'vision forward, WASM int8 vs onnxruntime-node fp32, 1 thr', ours: int8.forward, peer: native.forward, peerName: 'onnxruntime-node fp32', ratio: ratio(int8.forward.medianMs, native.forward.medianMs), target: 2 });
  }
  if (r.preprocess) {
    rows.push({ measure: 'preprocessing (decode → normalised 224² tensor)', ours: r.preprocess.clipEdge, peer: r.preprocess.peer, peerName: 'transformers.js image processor', ratio: ratio(r.preprocess.clipEdge.medianMs, r.preprocess.peer.medianMs) });
  }
  return rows;
}

export function headlineTable(r: BenchResult): string {
  const lines = ['| measure | clip-edge | peer | peer median (p90) | clip-edge / peer | target |', '| --- | --- | --- | --- | --- | --- |'];
  for (const h of headline(r)) lines.push(`| ${h.measure} | ${sm(h.ours)} | ${h.peerName} | ${sm(h.peer)} | ${rf(h.ratio)} | ${verdict(h.ratio, h.target)} |`);
  return lines.join('\n');
}

export function reportMarkdown(r: BenchResult, charts: Record<string, string>): string {
  const m = r.machine as { cpu: string; cores: number; memoryGiB: number; loadAverageAtStart: number[]; host: string };
  const out: string[] = [
    `# clip-edge vs transformers.js and onnxruntime-node — ${r.model.id}`,
    '',
    `${r.date} · ${m.cpu} × ${m.cores} cores, ${m.memoryGiB} GiB (load average at start ${m.loadAverageAtStart.join(' / ')}) · host \`${m.host}\` · profile \`${r.profile}\` · ${r.wallSeconds.toFixed(0)} s`,
    '',
    `Command: \`${r.command}\``,
    '',
    `Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    `Threads: ${r.threads.join(' and ')} (the same for every peer in a row). Photos: ${r.photos.count} from ${r.photos.source}. One prompt template for every peer: \`${r.template}\`.`,
    'Latencies are medians (p90) after warm-up; peers in one row ran in the same process, taking turns.',
    r.v8Flags.length
      ? `Case processes run Node with \`${r.v8Flags.join(' ')}\` (WebAssembly compiled by V8's optimising tier up front: on a busy machine the default background tier-up took over 80 ORT-web runs); cold-start servers and workerd run with default flags.`
      : 'Case processes run Node with default V8 flags (WebAssembly tiers up in the background: early runs are slower).',
    '',
    '## Summary',
    '',
    headlineTable(r),
    '',
  ];
  if (charts.classify) out.push(`![end-to-end classify latency](${charts.classify})`, '');
  out.push(
    '## End-to-end classify (image bytes → answer)',
    '',
    'clip-edge embeds a label set once (first call, after a warm-up on another label) and keeps the class matrix; the transformers.js pipeline runs the text tower for every call. Load times are in the JSON (with `--no-liftoff` they include compiling ORT\'s wasm; see the cold-start table for real start-up).',
    '',
    '| backend | dtype | labels | clip-edge first call | clip-edge steady | transformers.js first call | transformers.js steady | ratio | top-1 agreement |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.classify.map(
      (c) =>
        `| ${backendName(c.backend, c.threads)} | ${c.dtype} | ${c.labels} | ${ms(c.clipEdge.firstMs)} | ${sm(c.clipEdge.steady)} | ${ms(c.peer.firstMs)} | ${sm(c.peer.steady)} | ${rf(ratio(c.clipEdge.steady.medianMs, c.peer.steady.medianMs))} | ${(c.top1Agreement * 100).toFixed(0)} % (n=${c.clipEdge.top1.length}) |`,
    ),
    '',
  );
  const variants = [...new Set(r.vision.map((v) => v.variant))];
  const cols = [...new Map(r.vision.map((v) => [`${v.backend}/${v.threads}`, v] as const)).values()];
  out.push(
    '## Vision forward pass (batch 1) and memory per variant',
    '',
    `| variant | file | ${cols.map((c) => (c.backend === 'workerd' ? 'workerd (ORT-web WASM, 1 thr)' : backendName(c.backend, c.threads))).join(' | ')} | int8 / fp32 (WASM 1 thr) |`,
    `| --- | --- | ${cols.map(() => '---').join(' | ')} | --- |`,
    ...variants.map((v) => {
      const f = r.vision.find((x) => x.variant === v && x.fileMiB)?.fileMiB;
      const cells = cols.map((c) => {
        const e = visionOf(r, c.backend, c.threads, v);
        return e?.forward ? sm(e.forward) : e?.skipped ? 'not run' : '—';
      });
      const base = visionOf(r, 'wasm', 1, 'fp32')?.forward;
      const me = visionOf(r, 'wasm', 1, v)?.forward;
      return `| ${v} | ${f ? `${f.toFixed(1)} MiB` : '—'} | ${cells.join(' | ')} | ${rf(ratio(me?.medianMs, base?.medianMs))} |`;
    }),
    '',
  );
  if (charts.vision) out.push(`![vision forward latency](${charts.vision})`, '');
  out.push(
    '| variant | backend | session creation¹ | process RSS after | RSS growth | ORT wasm heap |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.vision
      .filter((v) => v.forward)
      .map((v) => `| ${v.variant} | ${v.backend === 'workerd' ? 'workerd' : backendName(v.backend, v.threads)} | ${ms(v.sessionMs)} | ${v.rssMiB ? `${v.rssMiB.toFixed(0)} MiB` : '—'} | ${v.rssGrowthMiB ? `${v.rssGrowthMiB.toFixed(0)} MiB` : '—'} | ${v.wasmHeapMiB ? `${v.wasmHeapMiB.toFixed(0)} MiB${v.backend === 'workerd' ? ' (cumulative: never shrinks)' : ''}` : '—'} |`),
    '',
    '¹ For WASM this includes starting ORT\'s wasm, which V8 compiles fully up front under `--no-liftoff`.',
    '',
  );
  const skipped = r.vision.filter((v) => v.skipped);
  if (skipped.length) out.push(...skipped.map((v) => `- ${v.backend} ${v.variant}: ${v.skipped}`), '');
  if (r.preprocess) {
    const p = r.preprocess;
    out.push(
      '## Preprocessing',
      '',
      `clip-edge (mozjpeg/libwebp WASM or fast-png, PIL-exact bicubic resize in TypeScript): ${sm(p.clipEdge)}; transformers.js (sharp/libvips decode and resize): ${sm(p.peer)} — ratio ${rf(ratio(p.clipEdge.medianMs, p.peer.medianMs))}.`,
      `Their pixel values differ by ${p.diffLevels.mean.toFixed(2)} 8-bit levels on average (max ${p.diffLevels.max.toFixed(0)}; ${(p.diffLevels.shareOver1 * 100).toFixed(1)} % of values by more than 1 level).`,
      '',
    );
  }
  if (r.crosscheck) {
    const c = r.crosscheck;
    const f = (s: CosineStats) => `mean ${s.mean.toFixed(5)}, min ${s.min.toFixed(5)} (n=${s.n})`;
    out.push(
      '## Correctness cross-check (cosine, fp32, onnxruntime-node)',
      '',
      '| what | clip-edge vs transformers.js |',
      '| --- | --- |',
      `| image embeddings, each with its own decode and preprocessing | ${f(c.image)} |`,
      `| image embeddings, transformers.js' model on clip-edge's pixels | ${f(c.imageSamePixels)} |`,
      `| text embeddings (\`${r.template}\` × ImageNet class names) | ${f(c.text)} |`,
      '',
      'Same pixels give the same embedding: the image gap is preprocessing alone (clip-edge reproduces PIL, which CLIP was trained with; transformers.js decodes and resizes with sharp).',
      '',
    );
  }
  if (r.throughput.length) {
    const levels = [...new Set(r.throughput.flatMap((t) => t.levels.map((l) => l.concurrency)))];
    out.push(
      '## Throughput over loopback HTTP (classify, 10 labels)',
      '',
      `| server | micro-batching | ${levels.map((c) => `concurrency ${c}: req/s · median (p90)`).join(' | ')} |`,
      `| --- | --- | ${levels.map(() => '---').join(' | ')} |`,
      ...r.throughput.map((t) => {
        const cells = levels.map((c) => {
          const l = t.levels.find((x) => x.concurrency === c);
          return l ? `${l.requestsPerSecond.toFixed(1)} · ${sm(l.latency)} (n=${l.requests})` : '—';
        });
        return `| ${t.backend} ${t.variant} | ${t.maxBatch > 1 ? `on (max ${t.maxBatch})` : 'off (CLIP_EDGE_MAX_BATCH=1)'} | ${cells.join(' | ')} |`;
      }),
      '',
    );
  }
  if (r.coldStart.length) {
    out.push(
      '## Cold start (process start → first answer) and warm latency',
      '',
      '| runtime | backend | vision variant | request | start → listening | start → first answer | warm classify | command |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...r.coldStart.map((c) => `| ${c.runtime} | ${c.backend} | ${c.variant} | ${c.request} | ${ms(c.listenMs ?? c.readyMs)} | ${ms(c.firstAnswerMs)} | ${sm(c.warm)} | \`${c.command}\` |`),
      '',
      'Node, Deno and Bun load the model and create its sessions before they listen. workerd: `wrangler dev` bundles the Worker (esbuild) and starts workerd before it listens — a deployed Worker pays neither — and the kit (ORT wasm, model from R2, session) is created by the first request.',
      '',
    );
  }
  out.push('## Prompt cache and quantization', '');
  const pc = r.classify.filter((c) => c.labels >= 100);
  if (pc.length) {
    out.push(
      ...pc.map((c) => `- ${c.labels} inline labels, ${backendName(c.backend, c.threads)} ${c.dtype}: clip-edge's first call (labels embedded) ${ms(c.clipEdge.firstMs)}, later calls ${ms(c.clipEdge.steady.medianMs)} — ${rf(ratio(c.clipEdge.steady.medianMs, c.clipEdge.firstMs))}.`),
    );
  }
  if (r.linked.promptCache) {
    const l = r.linked.promptCache;
    out.push(`- \`npm run bench:prompt-cache\` ([${l.file}](${l.file.split('/').at(-1)})): classify with the cached 1000-class ImageNet set ${ms(l.classifyWithCacheMs)}; encoding the labels in the request: ${Object.entries(l.encodedMs).map(([k, v]) => `${k} ${ms(v)}`).join(', ')}.`);
  }
  if (r.linked.quantize) out.push(`- Quantization time, peak memory, sizes and accuracy of the variants: [${r.linked.quantize}](${r.linked.quantize.split('/').at(-1)}) (\`clip-edge quantize … --verify\`).`);
  out.push('', `Variant files (MiB): ${Object.entries(r.model.variants).map(([p, t]) => `${p} vision ${t.vision?.toFixed(1) ?? '—'} / text ${t.text?.toFixed(1) ?? '—'}`).join('; ')}.`, '');
  if (r.errors.length) out.push('## Cases that failed', '', ...r.errors.map((e) => `- ${e.split('\n')[0]}`), '');
  return out.join('\n');
}

export function charts(r: BenchResult): Record<string, BarChart> {
  const out: Record<string, BarChart> = {};
  if (r.classify.length) {
    out.classify = {
      title: `End-to-end classify latency, ${r.model.id} (median, lower is better)`,
      unit: 'ms',
      series: ['clip-edge', 'transformers.js'],
      groups: r.classify.map((c) => ({ label: `${c.labels} labels, ${c.backend === 'wasm' ? 'WASM' : 'native'} ${c.dtype}`, values: [c.clipEdge.steady.medianMs, c.peer.steady.medianMs] })),
    };
  }
  const cols = [...new Map(r.vision.map((v) => [`${v.backend}/${v.threads}`, v] as const)).values()];
  if (cols.length) {
    out.vision = {
      title: `Vision forward pass, batch 1, ${r.model.id} (median, lower is better)`,
      unit: 'ms',
      series: cols.map((c) => (c.backend === 'workerd' ? 'workerd WASM 1 thr' : backendName(c.backend, c.threads))),
      groups: [...new Set(r.vision.map((v) => v.variant))].map((variant) => ({
        label: variant,
        values: cols.map((c) => visionOf(r, c.backend, c.threads, variant)?.forward?.medianMs),
      })),
    };
  }
  return out;
}

export const chartSvgs = (r: BenchResult): Record<string, string> => Object.fromEntries(Object.entries(charts(r)).map(([k, c]) => [k, barChartSvg(c)]));
