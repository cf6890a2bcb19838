/**
 * Every value and node name the passes create, in one table (as clip.cpp keeps its tensor names),
 * so a name in an error message or a profile can be traced to the pass that made it.
 * `Graph.uniqueName` adds a `_N` suffix should a name already be taken.
 */
export const NAMES = Object.freeze({
  /** fp16: a value cast to the other float type, and the Cast node making it. */
  castValue: (value: string, to: 'fp16' | 'fp32') => `${value}/to_${to}`,
  castNode: (value: string, to: 'fp16' | 'fp32') => `${value}/Cast_${to}`,
  /** fp16: a graph output's fp16 value before its Cast back to float32. */
  fp16Output: (output: string) => `${output}/fp16`,
  /** int8: one DynamicQuantizeLinear per activation, shared by every consumer. */
  dqlNode: (value: string) => `${value}/DynamicQuantizeLinear`,
  dqlOutputs: (value: string) => [`${value}/quantized`, `${value}/scale`, `${value}/zero_point`] as const,
  /** int8/q4: a weight's quantized data, scales and zero points. */
  quantWeight: (weight: string, kind: 'int8' | 'uint8' | 'q4' | 'q8') => `${weight}/${kind}`,
  weightScale: (weight: string) => `${weight}/scale`,
  weightZeroPoint: (weight: string) => `${weight}/zero_point`,
  /** int8: the nodes replacing one MatMul/Gemm/Conv/Gather (named after the node they replace). */
  quantNode: (node: string, step: string) => `${node}/${step}`,
  quantValue: (node: string, step: string) => `${node}/${step}_output`,
});
