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
  /** How the Worker decoded it: `exact`, or `dct-1/2` … (DCT-scaled because the exact decode exceeded the budget). */
  decode?: string;
  /** Right after the request, before any forced GC: V8 heap used, array-buffer backing stores, ORT's wasm memory. */
  afterRequestNoGc: { jsHeapUsed: number; backing: number; ortWasm: number };
  /** The JPEG codec's (libjpeg-turbo's) wasm memory after decoding this photo as the Worker does. */
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
  /** CLIP_EDGE_DECODE_BUDGET_MB in bytes. */
  decodeBudgetBytes: number;
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
    const exact = rows.find((r) => r.variant === c.variant && r.text === c.text);
    if (exact) return { bytes: peakOf(exact, 0), basis: 'measured' };
    const ref = rows.find((r) => r.text === c.text) ?? rows[0];
    // ORT's wasm memory grew ~2.5× the ONNX bytes in the measurements (see PLATFORM-NOTES); fp16 weights are cast to fp32.
    const perByte = /fp16/.test(c.variant) ? 5 : 3;
    const ortWasm = 16 * MB + perByte * c.onnxBytes;
    const js = ref ? ref.loaded.jsHeapUsed + ref.loaded.backing : 8 * MB;
    return { bytes: js + ortWasm + requestOverhead(ref), basis: 'estimated' };
  };
  const { bytes: model, basis } = modelOf(cfg);
  const peak = model + cfg.decodeBudgetBytes;
  const mb = (b: number) => `${(b / MB).toFixed(1)} MB`;
  const what = `${cfg.model} ${cfg.variant} vision${cfg.text ? ' + text' : ''} with a ${mb(cfg.decodeBudgetBytes)} decode budget`;
  if (peak <= limit) return { ok: true, peakBytes: peak, basis, message: `${what}: peak ${mb(peak)} (${basis}) ≤ ${mb(limit)}` };
  const fitting = otherConfigs
    .map((o) => ({ o, p: modelOf(o).bytes + o.decodeBudgetBytes }))
    .filter(({ p }) => p <= limit)
    .map(({ o, p }) => `${o.label} (${mb(p)})`);
  // The budget that would fit beside this model, if it leaves room for a 12 MP baseline JPEG (~37 MB) or at least 8 MB.
  const room = Math.floor((limit - model) / MB);
  return {
    ok: false,
    peakBytes: peak,
    basis,
    message:
      `${what}: peak ${mb(peak)} (${basis}) exceeds the Workers limit of ${mb(limit)}.` +
      (fitting.length ? ` Would fit: ${fitting.join('; ')}.` : ' No other variant of this model fits either: use a smaller model.') +
      (room >= 8 ? ` This variant fits with CLIP_EDGE_DECODE_BUDGET_MB=${room} (${room >= 38 ? '12 MP baseline JPEGs still decode exactly' : 'large JPEGs are then DCT-scaled, PNG/WebP limited to ~' + (Math.floor((room / 11) * 10) / 10).toFixed(1) + ' MP'}).` : ''),
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
    '- **decode**: how the Worker decoded the photo with its default 48 MB decode budget: `exact` (libjpeg-turbo, PIL\'s pixels,',
    '  resized straight from the codec\'s wasm memory) or `dct-1/2`… (DCT-scaled: the exact decode would exceed the budget).',
    '- **codec wasm**: libjpeg-turbo\'s wasm memory after that decode (the instance is dropped after decodes over 16 MB).',
    '- **peak (est.)**: JS heap after load + ORT wasm + codec wasm + the resize\'s intermediate (224 × long side × 3 B) + 2× the file',
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
    '| model | vision | text | photo (JPEG) | file | decode | ORT wasm after | codec wasm | heap right after (no GC) | peak (est.) | fits 128 MB |',
    '| --- | --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | --- |',
    ...t.rows.flatMap((r) =>
      r.requests.map(
        (q) =>
          `| ${r.model} | ${r.variant} | ${r.text ? 'yes' : 'no'} | ${q.size} (${(q.pixels / 1e6).toFixed(1)} MP) | ${mb(q.fileBytes)} | ${q.decode ?? '?'} | ${mb(q.afterRequestNoGc.ortWasm)} | ${mb(q.codecWasm)} | ${mb(q.afterRequestNoGc.jsHeapUsed + q.afterRequestNoGc.backing)} | ${mb(q.peakEstimate)} | ${q.peakEstimate <= t.limitBytes ? 'yes' : '**no**'} |`,
      ),
    ),
    '',
    '## Worst case per configuration (what `npm run workers:upload` checks)',
    '',
    'Model loaded + ORT after requests + a request\'s overhead (largest measured) + the whole decode budget',
    '(`CLIP_EDGE_DECODE_BUDGET_MB`, default 48): every image the decoder accepts stays within that budget.',
    '',
    '| model | vision | text | model + request | with 48 MB decode budget | fits 128 MB | largest budget that fits |',
    '| --- | --- | --- | ---: | ---: | --- | ---: |',
    ...t.rows.map((r) => {
      const base = peakOf(r, 0);
      const with48 = base + 48 * MB;
      const room = Math.floor((t.limitBytes - base) / MB);
      return `| ${r.model} | ${r.variant} | ${r.text ? 'yes' : 'no'} | ${mb(base)} | ${mb(with48)} | ${with48 <= t.limitBytes ? 'yes' : '**no**'} | ${room > 0 ? `${room} MB` : 'none: the model alone exceeds 128 MB'} |`;
    }),
    '',
  ];
  return lines.join('\n');
}
