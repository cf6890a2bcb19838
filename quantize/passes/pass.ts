import type { Tower } from '../../src/core/precision.ts';
import type { Graph } from '../graph/graph.ts';

/** What one pass did, for the progress log and the manifest's quantization report. */
export type PassReport = Record<string, number | string | string[]>;

export interface PassContext {
  /** Names the file in messages, e.g. `models/tiny-clip/onnx/vision_model.onnx`. */
  readonly where: string;
  readonly tower?: Tower;
  /** Progress lines (stderr in the CLI). */
  log(message: string): void;
}

/** One graph rewrite; the pipeline checks the graph after each. */
export interface Pass {
  readonly name: string;
  run(graph: Graph, ctx: PassContext): PassReport;
}
