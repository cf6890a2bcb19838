/** Request-size limits, enforced before any expensive work. */
export interface ClipLimits {
  /** Decoded image size; checked from the header before decoding. @defaultValue 40_000_000 */
  maxPixels: number;
  /** Inline labels per request. @defaultValue 256 */
  maxLabels: number;
  /** Characters per label. @defaultValue 200 */
  maxLabelLength: number;
  /** Templates per request. @defaultValue 32 */
  maxTemplates: number;
  /** Texts per /embed/text request. @defaultValue 64 */
  maxTexts: number;
  /** Characters per text. @defaultValue 2000 */
  maxTextLength: number;
  /** Classes of a stored label set. @defaultValue 1000 */
  maxLabelSetClasses: number;
  /** Prompts (classes × synonyms × templates) a request may have embedded when its set is not cached. @defaultValue 2048 */
  maxPrompts: number;
}

export const DEFAULT_LIMITS: Readonly<ClipLimits> = Object.freeze({
  maxPixels: 40_000_000,
  maxLabels: 256,
  maxLabelLength: 200,
  maxTemplates: 32,
  maxTexts: 64,
  maxTextLength: 2000,
  maxLabelSetClasses: 1000,
  maxPrompts: 2048,
});

/** topK everywhere: what classify and search return by default, and the most any request may ask for. */
export const TOP_K = Object.freeze({
  /** Classes POST /v1/classify (and ClipEdge.classify) return. */
  classify: 5,
  /** Matches a search returns (an index driver may allow fewer: VECTORIZE_LIMITS). */
  search: 10,
  /** The most a request may ask for, on every route. */
  max: 1000,
});

/** Inference batching: how many queued items run together, and how many may wait. */
export const BATCH = Object.freeze({
  /** Images (or prompts) per inference run under micro-batching (Workers: 1). */
  maxBatch: 16,
  /** Items waiting per tower before OVERLOADED. */
  maxQueue: 256,
  /** Prompts per run while a label set's class matrix is built: maxBatch × this. */
  promptBatchFactor: 4,
});
