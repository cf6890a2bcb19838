/**
 * Precision ↔ ONNX file suffix, the one table shared by the loader (src/) and
 * the quantizer (quantize/), so the writer and the reader cannot drift.
 * Names follow the Hugging Face / Optimum / transformers.js layout:
 * `onnx/vision_model.onnx`, `onnx/vision_model_fp16.onnx`, ...
 */
export const PRECISION_SUFFIX = Object.freeze({
  fp32: '',
  fp16: '_fp16',
  int8: '_int8',
  uint8: '_uint8',
  /** transformers.js' name for its default 8-bit dynamic quantization. */
  q8: '_quantized',
  q4: '_q4',
} as const);

export type Precision = keyof typeof PRECISION_SUFFIX;
export const PRECISIONS = Object.freeze(Object.keys(PRECISION_SUFFIX) as Precision[]);

export type Tower = 'vision' | 'text';
export const TOWERS: readonly Tower[] = Object.freeze(['vision', 'text'] as const);

export const isPrecision = (s: string): s is Precision => Object.hasOwn(PRECISION_SUFFIX, s);

/** Path of a tower's ONNX file inside a model folder, e.g. `onnx/vision_model_int8.onnx`. */
export const onnxFileOf = (tower: Tower, precision: Precision): string =>
  `onnx/${tower}_model${PRECISION_SUFFIX[precision]}.onnx`;

/** Path of a variant's ORT-format form (weights used in place), e.g. `onnx/vision_model_int8.ort`. */
export const ortFileOf = (tower: Tower, precision: Precision): string =>
  `onnx/${tower}_model${PRECISION_SUFFIX[precision]}.ort`;
