/**
 * The 128 MB memory budget of a Workers isolate: the measured table (bench/results/workers-memory.json,
 * made by `npm run workers:memory` inside workerd), the estimate of a request's peak, and the check
 * that `npm run workers:upload` runs before uploading anything. Pure functions, no I/O.
 */

/** Cloudflare's memory limit per isolate (local workerd does not enforce it). */
export const WORKERS_MEMORY_LIMIT = 128 * 1024 * 1024;
const MB = 1024 * 1024;

export interface RequestMemory {
  pixels: number;
  size: string;
  fileBytes: number;
  /** Right after the request, before any forced GC: V8 heap used, array-buffer backing stores, ORT's wasm memory. */
  afterRequestNoGc: { jsHeapUsed: number; backing: number; ortWasm: number };
  /** mozjpeg's wasm memory after decoding this photo. */
  codecWasm: number;
  /** See {@link estimatePeak}. */
  peakEstimate: number;
}

export interface MemoryRow {
  model: string;
  variant: string;
  text: boolean;
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
 * Bytes per decoded pixel held by JS at a request's peak: the RGBA copy out of the codec (4), the
 * RGB image (3), the upright copy of a rotated photo (3) and the resize's uint8 intermediates (≤ 1).
 */
export const JS_BYTES_PER_PIXEL = 11;

/** A request's peak: everything the isolate holds while the codec's memory and the decoded copies are alive together. */
export function estimatePeak(m: { jsHeapUsed: number; ortWasm: number; codecWasm: number; pixels: number; fileBytes: number }): number {
  return m.jsHeapUsed + m.ortWasm + m.codecWasm + JS_BYTES_PER_PIXEL * m.pixels + 2 * m.fileBytes;
}

/** Peak at `pixels`, from the measured requests of a row (linear in pixels between/beyond the two nearest sizes). */
export function peakAt(row: MemoryRow, pixels: number): number {
  const rs = [...row.requests].sort((a, b) => a.pixels - b.pixels);
  if (rs.length === 0) return row.loaded.jsHeapUsed + row.loaded.ortWasm + (JS_BYTES_PER_PIXEL + 4.2) * pixels;
  if (rs.length === 1) return rs[0]!.peakEstimate + (JS_BYTES_PER_PIXEL + 4.2) * (pixels - rs[0]!.pixels);
  const i = Math.max(1, rs.findIndex((r) => r.pixels >= pixels));
  const [a, b] = pixels > rs.at(-1)!.pixels ? [rs.at(-2)!, rs.at(-1)!] : [rs[i - 1]!, rs[i]!];
  const slope = (b.peakEstimate - a.peakEstimate) / (b.pixels - a.pixels);
  return a.peakEstimate + slope * (pixels - a.pixels);
}

/** Largest image (pixels) whose request peak stays within the limit for a row, rounded down to 0.5 MP. */
export function maxPixelsWithin(row: MemoryRow, limit = WORKERS_MEMORY_LIMIT): number {
  const rs = [...row.requests].sort((a, b) => a.pixels - b.pixels);
  let lo = 0;
  let hi = 100_000_000;
  if (peakAt(row, 1) > limit || rs.length === 0) return 0;
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2);
    if (peakAt(row, mid) <= limit) lo = mid;
    else hi = mid;
  }
  return Math.floor(lo / 500_000) * 500_000;
}

export interface BudgetInput {
  model: string;
  /** The resolved vision variant (not `auto`). */
  variant: string;
  text: boolean;
  maxPixels: number;
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
  const peakOf = (c: BudgetInput): { peak: number; basis: 'measured' | 'estimated' } => {
    const rows = table?.rows.filter((r) => r.model === c.model) ?? [];
    const exact = rows.find((r) => r.variant === c.variant && r.text === c.text);
    if (exact) return { peak: peakAt(exact, c.maxPixels), basis: 'measured' };
    const ref = rows.find((r) => r.text === c.text) ?? rows[0];
    // ORT's wasm memory grew ~2.5× the ONNX bytes in the measurements (see PLATFORM-NOTES); fp16 weights are cast to fp32.
    const perByte = /fp16/.test(c.variant) ? 5 : 3;
    const ortWasm = 16 * MB + perByte * c.onnxBytes;
    const js = ref?.loaded.jsHeapUsed ?? 8 * MB;
    const image = ref ? peakAt(ref, c.maxPixels) - ref.loaded.jsHeapUsed - ref.loaded.ortWasm : (JS_BYTES_PER_PIXEL + 4.2) * c.maxPixels;
    return { peak: js + ortWasm + image, basis: 'estimated' };
  };
  const { peak, basis } = peakOf(cfg);
  const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;
  const what = `${cfg.model} ${cfg.variant} vision${cfg.text ? ' + text' : ''}, images up to ${(cfg.maxPixels / 1e6).toFixed(1)} MP`;
  if (peak <= limit) return { ok: true, peakBytes: peak, basis, message: `${what}: peak ${mb(peak)} (${basis}) ≤ ${mb(limit)}` };
  const fitting = otherConfigs.filter((o) => peakOf(o).peak <= limit).map((o) => `${o.label} (${mb(peakOf(o).peak)})`);
  const exact = table?.rows.find((r) => r.model === cfg.model && r.variant === cfg.variant && r.text === cfg.text);
  const px = exact ? maxPixelsWithin(exact, limit) : 0;
  return {
    ok: false,
    peakBytes: peak,
    basis,
    message:
      `${what}: peak ${mb(peak)} (${basis}) exceeds the Workers limit of ${mb(limit)}.` +
      (fitting.length ? ` Would fit: ${fitting.join('; ')}.` : ' No other variant of this model fits either: use a smaller model.') +
      (px > 0 ? ` This variant fits with CLIP_EDGE_MAX_PIXELS=${px}.` : ''),
  };
}

/** The Markdown table of bench/results/workers-memory.md. */
export function memoryMarkdown(t: MemoryTable): string {
  const mb = (b: number) => (b / MB).toFixed(1);
  const lines = [
    '# clip-edge on Cloudflare Workers: memory',
    '',
    `Measured ${t.measuredAt.slice(0, 16).replace('T', ' ')} UTC in ${t.runtime} by \`npm run workers:memory\` (scripts/workers-memory.ts).`,
    `Limit: ${mb(t.limitBytes)} MB per isolate (not enforced by local workerd, hence this table). MB = MiB.`,
    '',
    '- **ORT wasm**: `memory.buffer.byteLength` of onnxruntime-web\'s instance, read through the adapter\'s instantiate shim',
    '  (`ortWasmMemoryBytes()`); it never shrinks.',
    '- **JS heap**: V8 `usedSize` from the inspector protocol (`Runtime.getHeapUsage`) after a forced GC.',
    '- **codec wasm**: mozjpeg\'s wasm memory after decoding the photo (freed with its instance after images over 4 MP).',
    `- **peak (est.)**: JS heap after load + ORT wasm + codec wasm + ${JS_BYTES_PER_PIXEL} B/pixel of decoded copies + 2× the file`,
    '  (scripts/workers-budget.ts `estimatePeak`); **heap right after (no GC)** is what V8 reported right after the',
    '  request, temporaries not yet collected (`usedSize` + `backingStorageSize`): a lower bound of the real peak.',
    '',
    '## After loading (fresh isolate, after GC)',
    '',
    '| model | vision | text tower | ORT wasm | JS heap | JS heap before loading |',
    '| --- | --- | --- | ---: | ---: | ---: |',
    ...t.rows.map((r) => `| ${r.model} | ${r.variant} | ${r.text ? 'yes' : 'no'} | ${mb(r.loaded.ortWasm)} | ${mb(r.loaded.jsHeapUsed)} | ${mb(r.idle.jsHeapUsed)} |`),
    '',
    '## At the peak of one classify request (labelSet from the prompt cache)',
    '',
    '| model | vision | text | photo | file | ORT wasm after | codec wasm | heap right after (no GC) | peak (est.) | fits 128 MB |',
    '| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...t.rows.flatMap((r) =>
      r.requests.map(
        (q) =>
          `| ${r.model} | ${r.variant} | ${r.text ? 'yes' : 'no'} | ${q.size} (${(q.pixels / 1e6).toFixed(1)} MP) | ${mb(q.fileBytes)} | ${mb(q.afterRequestNoGc.ortWasm)} | ${mb(q.codecWasm)} | ${mb(q.afterRequestNoGc.jsHeapUsed + q.afterRequestNoGc.backing)} | ${mb(q.peakEstimate)} | ${q.peakEstimate <= t.limitBytes ? 'yes' : '**no**'} |`,
      ),
    ),
    '',
    '## Largest image that fits, per configuration',
    '',
    '| model | vision | text | max pixels (CLIP_EDGE_MAX_PIXELS) |',
    '| --- | --- | --- | ---: |',
    ...t.rows.map((r) => `| ${r.model} | ${r.variant} | ${r.text ? 'yes' : 'no'} | ${maxPixelsWithin(r, t.limitBytes).toLocaleString('en-US')} |`),
    '',
  ];
  return lines.join('\n');
}
