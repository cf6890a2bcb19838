// A model folder whose vision tower costs what a big CLIP's does per image, with 1 MB of weights:
// the 3×224×224 pixels as 294 rows of 512, through `layers` MatMuls by one shared 512×512 weight
// (77 M multiply-adds each; ViT-B/32 is ~4.4 G), then a mean over the rows and a projection. For
// tests that need inference to take a while (the event loop must stay free meanwhile) without a
// 350 MB model.
import { intAttr, intsAttr } from '../../quantize/onnx/attrs.ts';
import { node } from '../../quantize/onnx/build.ts';

import { floatTensor, int64Tensor } from '../../quantize/onnx/tensor.ts';
import { EMBED, rand, toyFolder, toyVision } from '../quantize/toy.ts';

export function slowVisionFolder(layers: number): string {
  const W = 512;
  const chain = Array.from({ length: layers }, (_, i) => [
    node({ op: 'MatMul', inputs: [i === 0 ? 'rows' : `t${i - 1}`, 'w'], outputs: [`m${i}`] }),
    node({ op: 'Tanh', inputs: [`m${i}`], outputs: [`t${i}`] }),
  ]).flat();
  return toyFolder(
    toyVision({
      initializers: [int64Tensor('rows.shape', [3], [0, -1, W]), floatTensor('w', [W, W], rand(W * W, 0.08, 11)), floatTensor('proj', [W, EMBED], rand(W * EMBED, 0.1, 12))],
      nodes: [
        node({ op: 'Reshape', inputs: ['pixel_values', 'rows.shape'], outputs: ['rows'] }),
        ...chain,
        node({ op: 'ReduceMean', inputs: [`t${layers - 1}`], outputs: ['pooled'], attrs: [intsAttr('axes', [1]), intAttr('keepdims', 0)] }),
        node({ op: 'MatMul', inputs: ['pooled', 'proj'], outputs: ['image_embeds'] }),
      ],
      opset: 13,
    }),
  );
}

