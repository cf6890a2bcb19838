/** What the kit knows about one precision; a new precision is one row here plus its pass in quantize/pipeline.ts. */
export interface PrecisionRow {
  /** ONNX file suffix in the Hugging Face / Optimum / transformers.js layout: `onnx/vision_model<suffix>.onnx`. */
  readonly suffix: string;
  /** Place among the variants a CPU WASM backend picks when the variant is `auto` (1 first); absent: never picked. */
  readonly wasm?: number;
  /** The same for native onnxruntime-node. */
  readonly native?: number;
  /** Written by quantize/ (`clip-edge quantize --variants`), published only when it reaches these minimums against fp32. */
  readonly gate?: Readonly<{ cosineMean?: number; cosineMin?: number; top1Agreement?: number }>;
}

/**
 * Every precision, the one table shared by the loader (src/) and the quantizer (quantize/), so
 * the writer and the reader cannot drift. Names follow Hugging Face / Optimum / transformers.js:
 * `onnx/vision_model.onnx`, `onnx/vision_model_fp16.onnx`, ...
 */
export const PRECISION_TABLE = Object.freeze({
  fp32: { suffix: '', wasm: 4, native: 1 },
  fp16: { suffix: '_fp16', wasm: 5, native: 5, gate: { cosineMean: 0.9995 } },
  int8: { suffix: '_int8', wasm: 1, native: 2, gate: { cosineMean: 0.99, cosineMin: 0.97, top1Agreement: 0.97 } },
  uint8: { suffix: '_uint8', wasm: 3, native: 4 },
  /** transformers.js' name for its default 8-bit dynamic quantization. */
  q8: { suffix: '_quantized', wasm: 2, native: 3 },
  // No native rank: onnxruntime-node never picks q4 under `auto` (ask for it by name).
  q4: { suffix: '_q4', wasm: 6, gate: { cosineMean: 0.98 } },
} as const satisfies Record<string, PrecisionRow>);

/** Precision → ONNX file suffix (from PRECISION_TABLE). */
export const PRECISION_SUFFIX = Object.freeze(
  Object.fromEntries(Object.entries(PRECISION_TABLE).map(([p, row]) => [p, row.suffix])) as { readonly [P in keyof typeof PRECISION_TABLE]: (typeof PRECISION_TABLE)[P]['suffix'] },
);

export type Precision = keyof typeof PRECISION_SUFFIX;
export const PRECISIONS = Object.freeze(Object.keys(PRECISION_SUFFIX) as Precision[]);

export type Tower = 'vision' | 'text';
export const TOWERS: readonly Tower[] = Object.freeze(['vision', 'text'] as const);

export const isPrecision = (s: string): s is Precision => Object.hasOwn(PRECISION_TABLE, s);

const byRank = (column: 'wasm' | 'native'): readonly Precision[] =>
  Object.freeze(
    PRECISIONS.filter((p) => (PRECISION_TABLE[p] as PrecisionRow)[column] !== undefined).sort(
      (a, b) => (PRECISION_TABLE[a] as PrecisionRow)[column]! - (PRECISION_TABLE[b] as PrecisionRow)[column]!,
    ),
  );

/** The variants a WASM backend (Node, Deno, Bun, browsers, Workers) prefers under `auto`, first first: int8 runs fastest there. */
export const WASM_PREFERENCE: readonly Precision[] = byRank('wasm');
/** The same for onnxruntime-node: fp32 first (its kernels are fast, and fp32 is exact). */
export const NATIVE_PREFERENCE: readonly Precision[] = byRank('native');
/** The precisions quantize/ writes (rows with a gate). */
export const QUANTIZED_PRECISIONS: readonly Precision[] = Object.freeze(PRECISIONS.filter((p) => (PRECISION_TABLE[p] as PrecisionRow).gate !== undefined));

/** Path of a tower's ONNX file inside a model folder, e.g. `onnx/vision_model_int8.onnx`. */
export const onnxFileOf = (tower: Tower, precision: Precision): string =>
  `onnx/${tower}_model${PRECISION_SUFFIX[precision]}.onnx`;

/** Path of a variant's ORT-format form (weights used in place), e.g. `onnx/vision_model_int8.ort`. */
export const ortFileOf = (tower: Tower, precision: Precision): string =>
  `onnx/${tower}_model${PRECISION_SUFFIX[precision]}.ort`;
