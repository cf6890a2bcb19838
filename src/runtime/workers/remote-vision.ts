import type { ModelInfo } from '../../core/model/info.ts';
import type { ModelSource } from '../../core/model/source.ts';
import type { Precision } from '../../core/precision.ts';
import { type VisionTower, createRemoteVision } from '../../core/remote-vision.ts';
import { splitVariantOf, visionPartsOf } from '../../core/vision-parts.ts';
import type { WorkersEnv } from './bindings.ts';
import { manifestSha256 } from './model-source.ts';
import { WORKERS_VARIANT_ORDER } from './variants.ts';
import { visionTimeoutMs } from './vision-part-service.ts';

/**
 * The vision tower split across part Workers (the VISION_PARTS service binding: part 1, which calls
 * the others) as this Worker's vision tower: it then decodes and preprocesses only.
 */
export function workersRemoteVision(env: WorkersEnv, source: ModelSource, wanted: Precision | 'auto' | undefined): (info: ModelInfo) => Promise<VisionTower> {
  const service = env.VISION_PARTS!;
  const timeoutMs = visionTimeoutMs(env);
  return async (info) => {
    const variant = splitVariantOf(info, wanted, WORKERS_VARIANT_ORDER);
    return createRemoteVision({ info, service, manifestSha256: await manifestSha256(source), variant, parts: visionPartsOf(info, variant).length, timeoutMs });
  };
}
