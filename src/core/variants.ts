import { ClipEdgeError } from './errors.ts';
import { type ModelInfo, availablePrecisions } from './model/info.ts';
import { type Precision, type Tower, isPrecision } from './precision.ts';

/**
 * The variant a tower runs: the one asked for (it must exist), or for `auto` the first of `order`
 * that the folder has (else whatever it has).
 */
export function pickVariant(info: ModelInfo, tower: Tower, wanted: Precision | 'auto' | undefined, order: readonly Precision[]): Precision {
  const have = availablePrecisions(info, tower);
  if (wanted && wanted !== 'auto') {
    if (!isPrecision(wanted)) throw new ClipEdgeError('BAD_INPUT', `unknown variant "${wanted}"`);
    const absent = info.missing[wanted]?.[tower];
    if (absent) throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id}/${absent.file} is missing (the manifest lists it; available: ${have.join(', ') || 'none'})`);
    if (!have.includes(wanted)) {
      throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id} has no ${wanted} ${tower} encoder (available: ${have.join(', ') || 'none'})`);
    }
    return wanted;
  }
  const pick = order.find((p) => have.includes(p)) ?? have[0];
  if (!pick) throw new ClipEdgeError('MODEL_NOT_FOUND', `${info.id} has no ${tower} encoder`);
  return pick;
}
