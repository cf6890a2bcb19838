import { getPriority, setPriority } from 'node:os';

/** How much lower than the event loop's a decode or inference thread runs (nice steps). @defaultValue 10 */
export const DEFAULT_THREAD_NICE = 10;

/**
 * Lowers the calling worker thread's CPU priority, so that the event loop (/healthz, routing,
 * admission) is scheduled first when the cores are busy: a server runs a decode thread per core
 * beside its inference thread, so under load its main thread waited for CPU behind its own
 * threads (bench/results/event-loop.md). Linux only: there the nice value is per thread and
 * `setPriority(0, …)` changes the calling thread alone (setpriority(2), "BUGS"); elsewhere it
 * would re-nice the whole process. Not on Deno (os.setPriority asks for --allow-sys). Threads
 * onnxruntime starts from here inherit it. `CLIP_EDGE_THREAD_NICE=0` turns it off.
 */
export function lowerThreadPriority(): void {
  const g = globalThis as { Deno?: unknown };
  if (process.platform !== 'linux' || g.Deno !== undefined) return;
  const raw = process.env.CLIP_EDGE_THREAD_NICE?.trim();
  const steps = raw ? Number(raw) : DEFAULT_THREAD_NICE;
  if (!Number.isInteger(steps) || steps <= 0) return; // 0 (or not a whole number: configFromEnv has refused it already) keeps the priority
  try {
    setPriority(0, Math.min(19, getPriority(0) + steps));
  } catch {
    // Not permitted here (a sandbox): the thread runs at the process's priority, as before.
  }
}
