import { getPriority, setPriority } from 'node:os';
import { ClipEdgeError } from '../../core/errors.ts';

/** How much lower than the event loop's a decode or inference thread runs (nice steps). @defaultValue 0 (level) */
export const DEFAULT_THREAD_NICE = 0;

/** The most nice steps: a thread's nice value is at most 19 on Linux. */
export const MAX_THREAD_NICE = 19;

/**
 * `threadNice` as given to the thread pools, checked on the main thread where they are made (so a
 * wrong value is an error at start-up, not a thread that silently keeps its priority).
 */
export function checkThreadNice(steps: number | undefined): number {
  if (steps === undefined) return DEFAULT_THREAD_NICE;
  if (!Number.isInteger(steps) || steps < 0 || steps > MAX_THREAD_NICE) {
    throw new ClipEdgeError('BAD_INPUT', `threadNice must be a whole number in [0, ${MAX_THREAD_NICE}], got ${String(steps)}`);
  }
  return steps;
}

/**
 * Lowers the calling worker thread's CPU priority by `steps` (`threadNice`, `CLIP_EDGE_THREAD_NICE`,
 * opt-in; read and checked once on the main thread, handed to each thread in its workerData), so
 * that the event loop (/healthz, routing, admission) is scheduled first when the cores are
 * busy: a server runs a decode thread per core beside its inference thread, and under load its
 * main thread waited for CPU behind its own threads (bench/results/event-loop.md: /healthz p99
 * 0.45× with N = 10). Not the default: the niced threads also lose CPU to every other process on
 * the machine (the fault suite's 1 s deadlines failed with them at nice 19 beside other test
 * processes). Linux only: there the nice value is per thread and `setPriority(0, …)` changes the
 * calling thread alone (setpriority(2), "BUGS"); elsewhere it would re-nice the whole process. Not
 * on Deno (os.setPriority asks for --allow-sys). Threads onnxruntime starts from here inherit it.
 */
export function lowerThreadPriority(steps: number = DEFAULT_THREAD_NICE): void {
  const g = globalThis as { Deno?: unknown };
  if (process.platform !== 'linux' || g.Deno !== undefined || steps <= 0) return;
  try {
    setPriority(0, Math.min(MAX_THREAD_NICE, getPriority(0) + steps));
  } catch {
    // Not permitted here (a sandbox): the thread runs at the process's priority, as before.
  }
}
