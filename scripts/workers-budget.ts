/**
 * The 128 MB memory budget of a Workers isolate: the measured table (bench/results/workers-memory.json,
 * made by `npm run workers:memory` inside workerd), the estimate of a request's peak, and the check
 * that `npm run workers:upload` runs before uploading anything. Pure functions, no I/O.
 */

import { WORKERS_JS_HEAP_ALLOWANCE, WORKERS_MEMORY_LIMIT, decodeBudgetFromModel } from '../src/runtime/workers/limits.ts';

export { WORKERS_MEMORY_LIMIT };
const MB = 1024 * 1024;
/** Below this, an `auto` decode budget is useless: a 12 MP photo streamed into the crop (baseline JPEG, PNG, lossy WebP) needs 2–5 MB, its file included. */
export const MIN_AUTO_DECODE_BUDGET = 5 * MB;

export interface RequestMemory {
  pixels: number;
  size: string;
  fileBytes: number;
  /** How the Worker decoded it: `exact`, or `dct-1/2` … (DCT-scaled because the exact decode exceeded the budget). */
  decode?: string;
  /** Right after the request, before any forced GC: V8 heap used, array-buffer backing stores, ORT's wasm memory. */
  afterRequestNoGc: { jsHeapUsed: number; backing: number; ortWasm: number };
  /** The image codecs' wasm memory at its largest while the request ran: the live instances (libjpeg-turbo, libwebp; in use and kept idle). */
  codecWasm: number;
  /** See {@link estimatePeak}. */
  peakEstimate: number;
  /** Requests sent at once (4: the row is one of them; the figures are those of the whole burst). @defaultValue 1 */
  concurrent?: number;
  /**
   * Measured peak: ORT's and the codec's wasm high-water marks (exact: wasm memory never shrinks)
   * plus the largest JS heap (used + backing stores) sampled through the inspector while the
   * request(s) ran.
   */
  peakMeasured?: number;
  /** The decode budget the Worker used for this request (`auto`: what the loaded model left). */
  decodeBudget?: number;
  /** Latency of the request as the client saw it (ms). */
  ms?: number;
}

export interface MemoryRow {
  model: string;
  variant: string;
  text: boolean;
  /** The vision tower was loaded in place from its ORT-format file. */
  inPlace?: boolean;
  /** First request after a fresh isolate (model streamed from local R2, session created, one run), ms. */
  coldStartMs?: number;
  /** Warm requests, batch 1: median round trip of the 1 MP photo as the client saw it (ms). */
  latency?: { requestMsMedian: number; runs: number; batch: 1; photo: string };
  /** Before the kit is created (module loaded), after a GC. */
  idle: { jsHeapUsed: number; backing: number };
  /** After the sessions are created, after a GC. */
  loaded: { jsHeapUsed: number; backing: number; ortWasm: number };
  requests: RequestMemory[];
}

export interface MemoryTable {
  measuredAt: string;
  runtime: string;
  limitBytes: number;
  rows: MemoryRow[];
}

/**
 * A request's peak: JS heap after load + ORT's wasm + the codec's wasm + the resize's 8-bit
 * intermediate (crop width × the long side × 3 bytes: rows are resized straight from the codec's
 * memory, no full-size copy) + 2× the file (request body and its copy into the codec).
 */
export function estimatePeak(m: { jsHeapUsed: number; ortWasm: number; codecWasm: number; longSide: number; fileBytes: number }): number {
  return m.jsHeapUsed + m.ortWasm + m.codecWasm + 3 * 224 * m.longSide + 2 * m.fileBytes;
}

/**
 * What a request adds on top of the model, the decode budget aside: request body and its copy, the
 * resize's intermediate, response; the largest measured (heap right after a request, before GC,
 * minus the heap after load), at least 8 MiB.
 */
export function requestOverhead(row: MemoryRow | undefined): number {
  const measured = row?.requests.map((q) => q.afterRequestNoGc.jsHeapUsed + q.afterRequestNoGc.backing - row.loaded.jsHeapUsed - row.loaded.backing) ?? [];
  return Math.max(8 * MB, ...measured);
}

/** ORT's wasm memory once a request has run (it grows on the first inference and never shrinks). */
const ortAfterRequests = (row: MemoryRow): number => Math.max(row.loaded.ortWasm, ...row.requests.map((q) => q.afterRequestNoGc.ortWasm));

/**
 * The configuration's worst case: the model loaded (JS heap + ORT's wasm after requests), the
 * whole decode budget in use, and a request's own overhead. Images are what the decode budget lets
 * through (decoder refusals keep every image within it), so the pixel limit plays no part.
 */
export function peakOf(row: MemoryRow, decodeBudgetBytes: number): number {
  return row.loaded.jsHeapUsed + row.loaded.backing + ortAfterRequests(row) + decodeBudgetBytes + requestOverhead(row);
}

export interface BudgetInput {
  model: string;
  /** The resolved vision variant (not `auto`). */
  variant: string;
  text: boolean;
  /** Loaded in place (ORT-format file). @defaultValue false */
  inPlace?: boolean;
  /** CLIP_EDGE_DECODE_BUDGET_MB in bytes, or `auto` (what the model leaves). */
  decodeBudgetBytes: number | 'auto';
  /** CLIP_EDGE_BODY_MEMORY_MB in bytes. @defaultValue 8 MiB */
  bodyMemoryBytes?: number;
  /** ONNX bytes of the configuration (vision + text when enabled): used to estimate an unmeasured variant. */
  onnxBytes: number;
}

export interface BudgetResult {
  ok: boolean;
  peakBytes: number;
  /** `measured` (this configuration was run in workerd) or `estimated` (scaled from a measured one). */
  basis: 'measured' | 'estimated';
  message: string;
}

/**
 * Is the configuration's peak within 128 MB? Unmeasured configurations are estimated from a measured
 * one of the same model by ORT's memory per ONNX byte. The message says what would fit when it does not.
 */
export function checkBudget(table: MemoryTable | undefined, cfg: BudgetInput, otherConfigs: (BudgetInput & { label: string })[] = []): BudgetResult {
  const limit = table?.limitBytes ?? WORKERS_MEMORY_LIMIT;
  /** The model's share (everything but the decode budget). */
  const modelOf = (c: BudgetInput): { bytes: number; basis: 'measured' | 'estimated' } => {
    const rows = table?.rows.filter((r) => r.model === c.model) ?? [];
    const exact = rows.find((r) => r.variant === c.variant && r.text === c.text && !!r.inPlace === !!c.inPlace);
    if (exact) return { bytes: peakOf(exact, 0), basis: 'measured' };
    const ref = rows.find((r) => r.text === c.text && !r.inPlace) ?? rows[0];
    // ORT's wasm memory grew ~2.5× the ONNX bytes in the measurements (see PLATFORM-NOTES); fp16 weights are cast to fp32.
    const perByte = c.inPlace ? 1.15 : /fp16/.test(c.variant) ? 5 : 3;
    const ortWasm = 16 * MB + perByte * c.onnxBytes;
    const js = ref ? ref.loaded.jsHeapUsed + ref.loaded.backing : 8 * MB;
    return { bytes: js + ortWasm + requestOverhead(ref), basis: 'estimated' };
  };
  const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;
  if (cfg.decodeBudgetBytes === 'auto') return checkAuto(table, cfg, limit, mb);
  const { bytes: model, basis } = modelOf(cfg);
  const peak = model + cfg.decodeBudgetBytes;
  const what = `${cfg.model} ${cfg.variant}${cfg.inPlace ? ' (in place)' : ''} vision${cfg.text ? ' + text' : ''} with a ${mb(cfg.decodeBudgetBytes)} decode budget`;
  if (peak <= limit) return { ok: true, peakBytes: peak, basis, message: `${what}: peak ${mb(peak)} (${basis}) ≤ ${mb(limit)}` };
  const fitting = otherConfigs
    .map((o) => ({ o, p: modelOf(o).bytes + (o.decodeBudgetBytes === 'auto' ? MIN_AUTO_DECODE_BUDGET : o.decodeBudgetBytes) }))
    .filter(({ p }) => p <= limit)
    .map(({ o, p }) => `${o.label} (${mb(p)})`);
  // The budget that would fit beside this model, if it leaves at least 8 MB (streamed photos need 2–5 MB; a 12 MP progressive JPEG ~38 MB).
  const room = Math.floor((limit - model) / MB);
  return {
    ok: false,
    peakBytes: peak,
    basis,
    message:
      `${what}: peak ${mb(peak)} (${basis}) exceeds the Workers limit of ${mb(limit)}.` +
      (fitting.length ? ` Would fit: ${fitting.join('; ')}.` : ' No other variant of this model fits either: use a smaller model.') +
      (room >= 8 ? ` This variant fits with CLIP_EDGE_DECODE_BUDGET_MB=${room} (${room >= 38 ? '12 MP progressive JPEGs still decode exactly' : 'baseline JPEG, PNG and lossy WebP still decode exactly, streamed; progressive JPEG up to ~' + (Math.floor((room / 3.2) * 10) / 10).toFixed(1) + ' MP, lossless WebP up to ~' + (Math.floor((room / 11) * 10) / 10).toFixed(1) + ' MP'}).` : ''),
  };
}

/**
 * `auto` (the Worker's default): the decode budget is what the loaded model leaves
 * (src/runtime/workers/limits.ts decodeBudgetFromModel), so the isolate's total is 128 MB by
 * construction; what can fail is the room left for images (≥ MIN_AUTO_DECODE_BUDGET) and, where
 * measured, a request's measured peak.
 */
function checkAuto(table: MemoryTable | undefined, cfg: BudgetInput, limit: number, mb: (b: number) => string): BudgetResult {
  const what = `${cfg.model} ${cfg.variant}${cfg.inPlace ? ' (in place)' : ''} vision${cfg.text ? ' + text' : ''} with the decode budget following the model`;
  const row = table?.rows.find((r) => r.model === cfg.model && r.variant === cfg.variant && r.text === cfg.text && !!r.inPlace === !!cfg.inPlace);
  const bodyMemoryBytes = cfg.bodyMemoryBytes ?? 8 * MB;
  const ort = row ? ortAfterRequests(row) : 16 * MB + (cfg.inPlace ? 1.15 : 3) * (cfg as { onnxBytes: number }).onnxBytes;
  const decode = decodeBudgetFromModel({ ortWasmBytes: ort, bodyMemoryBytes, limitBytes: limit });
  const measured = row ? Math.max(0, ...row.requests.map((q) => q.peakMeasured ?? 0)) : 0;
  const basis = row ? 'measured' : 'estimated';
  const peak = Math.max(measured, ort + WORKERS_JS_HEAP_ALLOWANCE + bodyMemoryBytes + decode);
  if (decode >= MIN_AUTO_DECODE_BUDGET && measured <= limit) {
    return { ok: true, peakBytes: peak, basis, message: `${what}: ORT ${mb(ort)} (${basis}), decode budget ${mb(decode)}${measured ? `, largest measured request peak ${mb(measured)}` : ''} ≤ ${mb(limit)}` };
  }
  return {
    ok: false,
    peakBytes: Math.max(peak, ort + WORKERS_JS_HEAP_ALLOWANCE + bodyMemoryBytes + MIN_AUTO_DECODE_BUDGET),
    basis,
    message:
      `${what}: ORT ${mb(ort)} (${basis}) leaves a decode budget of ${mb(decode)}${measured > limit ? ` and a request peaked at ${mb(measured)}` : ''}, ` +
      `under the ${mb(MIN_AUTO_DECODE_BUDGET)} a 12 MP photo needs streamed, within the Workers limit of ${mb(limit)}. Use a smaller variant, its ORT-format form (clip-edge quantize --ort), or a smaller CLIP_EDGE_BODY_MEMORY_MB.`,
  };
}

/** The Markdown table of bench/results/workers-memory.md. */
export function memoryMarkdown(t: MemoryTable): string {
  const mb = (b: number) => (b / MB).toFixed(1);
  const load = (r: MemoryRow) => (r.inPlace ? 'in place (.ort)' : 'copy (.onnx)');
  const fits = (b: number) => (b <= t.limitBytes ? 'yes' : '**no**');
  const lines = [
    '# clip-edge on Cloudflare Workers: memory',
    '',
    `Measured ${t.measuredAt.slice(0, 16).replace('T', ' ')} UTC in ${t.runtime} by \`npm run workers:memory\` (scripts/workers-memory.ts).`,
    `Limit: ${mb(t.limitBytes)} MB per isolate (not enforced by local workerd, hence this table). MB = MiB.`,
    '',
    '- **load**: `in place (.ort)`: the variant\'s ORT-format file streamed from R2 into ORT\'s heap and used there',
    '  (src/core/ort/wasm/in-place.ts); `copy (.onnx)`: the .onnx file handed to ORT, which copies every initializer.',
    '- **ORT wasm**: `memory.buffer.byteLength` of onnxruntime-web\'s instance (it never shrinks: a high-water mark).',
    '- **JS heap**: V8 `usedSize` from the inspector protocol (`Runtime.getHeapUsage`) after a forced GC.',
    '- **decode**: how the Worker decoded the photo: `exact` (libjpeg-turbo, PIL\'s pixels) or `dct-1/2`… (DCT-scaled to fit',
    '  the decode budget); **budget** is what `CLIP_EDGE_DECODE_BUDGET_MB=auto` (the default) gave it: 128 MB − ORT wasm',
    '  − 8 MB JS heap − the 8 MB request-body pool, at most 48 MB.',
    '- **codec wasm**: the most wasm memory the codecs\' live instances (libjpeg-turbo + libwebp, in use and kept idle) held while the request ran.',
    '- **peak (measured)**: ORT wasm + codec wasm (exact high-water marks) + the largest JS heap (used + backing stores) sampled',
    '  every few ms through the inspector while the request ran. **peak (est.)**: JS heap after load + ORT + codec + the',
    '  resize\'s intermediate + 2× the file(s) (`estimatePeak`). **4×**: four requests sent at once; their figures are the burst\'s.',
    '',
    '## After loading (fresh isolate, after GC)',
    '',
    '| model | vision | load | text tower | ORT wasm | JS heap | JS heap before loading | cold start (ms) | warm request, 1 MP, batch 1 (ms) |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |',
    ...t.rows.map(
      (r) =>
        `| ${r.model} | ${r.variant} | ${load(r)} | ${r.text ? 'yes' : 'no'} | ${mb(r.loaded.ortWasm)} | ${mb(r.loaded.jsHeapUsed)} | ${mb(r.idle.jsHeapUsed)} | ${r.coldStartMs ?? '–'} | ${r.latency?.requestMsMedian ?? '–'} |`,
    ),
    '',
    '## At the peak of a request',
    '',
    '| model | vision | load | text | photo (JPEG) | file | budget | decode | ORT wasm after | codec wasm | peak (measured) | peak (est.) | fits 128 MB |',
    '| --- | --- | --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |',
    ...t.rows.flatMap((r) =>
      r.requests.map((q) => {
        const peak = q.peakMeasured ?? q.peakEstimate;
        return `| ${r.model} | ${r.variant} | ${load(r)} | ${r.text ? 'yes' : 'no'} | ${q.concurrent ? `${q.concurrent}× ` : ''}${q.size} (${(q.pixels / 1e6).toFixed(1)} MP) | ${mb(q.fileBytes)} | ${q.decodeBudget !== undefined ? mb(q.decodeBudget) : '–'} | ${q.decode ?? '?'} | ${mb(q.afterRequestNoGc.ortWasm)} | ${mb(q.codecWasm)} | ${q.peakMeasured !== undefined ? mb(q.peakMeasured) : '–'} | ${mb(q.peakEstimate)} | ${fits(peak)} |`;
      }),
    ),
    '',
    '## Worst case per configuration with a fixed 48 MB decode budget (`CLIP_EDGE_DECODE_BUDGET_MB=48`)',
    '',
    'Model loaded + ORT after requests + a request\'s overhead (largest measured) + the whole decode budget.',
    'With `auto` (the default) the budget is what is left instead, so the total is 128 MB by construction.',
    '',
    '| model | vision | load | text | model + request | with 48 MB decode budget | fits 128 MB | largest budget that fits |',
    '| --- | --- | --- | --- | ---: | ---: | --- | ---: |',
    ...t.rows.map((r) => {
      const base = peakOf(r, 0);
      const with48 = base + 48 * MB;
      const room = Math.floor((t.limitBytes - base) / MB);
      return `| ${r.model} | ${r.variant} | ${load(r)} | ${r.text ? 'yes' : 'no'} | ${mb(base)} | ${mb(with48)} | ${fits(with48)} | ${room > 0 ? `${room} MB` : 'none: the model alone exceeds 128 MB'} |`;
    }),
    '',
  ];
  return lines.join('\n');
}
