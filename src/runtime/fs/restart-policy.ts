import { ClipEdgeError } from '../../core/errors.ts';

/** When a crashed thread is started again, and when it is not (inference-thread.ts). */
export interface RestartOptions {
  /** Crashes within `windowMs` after which the thread is not restarted again (calls then fail until the process restarts). @defaultValue 5 */
  readonly maxCrashes?: number;
  /** The window the crashes are counted in. @defaultValue 60000 */
  readonly windowMs?: number;
  /** Wait before the first restart; doubled for each further crash in the window. @defaultValue 250 */
  readonly backoffMs?: number;
  /** The longest wait before a restart. @defaultValue 8000 */
  readonly maxBackoffMs?: number;
}

export interface CrashVerdict {
  /** Crashes in the window, this one included. */
  readonly crashes: number;
  /** No more restarts: this was the `maxCrashes`-th crash within `windowMs`. */
  readonly giveUp: boolean;
  /** Milliseconds to wait before the next start (0 when giving up). */
  readonly delayMs: number;
}

/**
 * Bounded restarts with exponential back-off. A thread that crashes once (a native abort in one run,
 * an out-of-memory) comes back almost at once; one that crashes on every start or every call does
 * not spin: each restart waits twice as long, and after `maxCrashes` in `windowMs` it stays down
 * with a clear error instead of burning a core on start-ups.
 */
export function restartPolicy(options: RestartOptions = {}, now: () => number = Date.now): { crashed(): CrashVerdict; readonly options: Required<RestartOptions> } {
  const o: Required<RestartOptions> = { maxCrashes: options.maxCrashes ?? 5, windowMs: options.windowMs ?? 60_000, backoffMs: options.backoffMs ?? 250, maxBackoffMs: options.maxBackoffMs ?? 8_000 };
  for (const [k, v] of Object.entries(o)) {
    if (!Number.isFinite(v) || v < 0 || (k === 'maxCrashes' && (!Number.isSafeInteger(v) || v < 1))) {
      throw new ClipEdgeError('BAD_INPUT', `inference thread restarts: ${k} must be ${k === 'maxCrashes' ? 'a positive integer' : 'a number ≥ 0'}, got ${String(v)}`);
    }
  }
  const times: number[] = [];
  return {
    options: o,
    crashed() {
      const t = now();
      times.push(t);
      // Older crashes leave the window; this one always counts (windowMs 0 dropped it: crash 0, half a back-off).
      while (times.length > 1 && times[0]! <= t - o.windowMs) times.shift();
      const crashes = times.length;
      if (crashes >= o.maxCrashes) return { crashes, giveUp: true, delayMs: 0 };
      return { crashes, giveUp: false, delayMs: Math.min(o.maxBackoffMs, o.backoffMs * 2 ** (crashes - 1)) };
    },
  };
}
