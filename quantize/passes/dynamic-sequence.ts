import type { Graph } from '../graph/graph.ts';
import type { Pass } from './pass.ts';

/** The name the text tower's sequence axis gets (Hugging Face / Optimum exports use the same). */
export const SEQUENCE_AXIS = 'sequence_length';

/**
 * Makes a text tower's sequence axis dynamic: `input_ids` / `attention_mask` declared `[batch, 77]`
 * become `[batch, sequence_length]`, and the recorded intermediate shapes (value_info, which may hold
 * the fixed 77) are dropped for the runtime to infer again. The graph itself is already
 * length-generic in CLIP exports — the positional embedding is sliced to Shape(input_ids)[1] and the
 * causal mask built from it — so only the declared inputs held it at 77. The runtime then runs each
 * batch at its longest prompt's length (src/core/tower.ts textRunLength): exact, because the tower is
 * causal and pools at the end-of-text token. Vision towers are left alone.
 */
export function dynamicSequencePass(): Pass {
  return {
    name: 'dynamic-sequence',
    run(graph: Graph, ctx) {
      if (ctx.tower !== 'text') return { inputs: 0, valueInfoDropped: 0 };
      let changed = 0;
      for (const input of graph.inputs) {
        if (input.name !== 'input_ids' && input.name !== 'attention_mask') continue;
        const dim = input.type?.tensor_type?.shape?.dim?.[1];
        if (!dim || dim.dim_param) continue;
        delete dim.dim_value;
        dim.dim_param = SEQUENCE_AXIS;
        changed++;
      }
      const dropped = changed ? graph.proto.value_info.length : 0;
      if (changed) graph.proto.value_info = [];
      if (changed) ctx.log(`sequence axis made dynamic on ${changed} inputs (${dropped} recorded shapes dropped)`);
      return { inputs: changed, valueInfoDropped: dropped };
    },
  };
}
