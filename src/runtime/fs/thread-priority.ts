import { getPriority, setPriority } from 'node:os';

/** How much lower than the event loop's a decode or inference thread runs (nice steps). @defaultValue 0 (level) */
export const DEFAULT_THREAD_NICE = 0;

/**
 * With `CLIP_EDGE_THREAD_NICE=N` (opt-in), lowers the calling worker thread's CPU priority by N,
 * so that the event loop (/healthz, routing, admission) is scheduled first when the cores are
 * busy: a server runs a decode thread per core beside its inference thread, and under load its
 * main thread waited for CPU behind its own threads (bench/results/event-loop.md: /healthz p99
 * 0.45× with N = 10). Not the default: the niced threads also lose CPU to every other process on
 * the machine (the fault suite's 1 s deadlines failed with them at nice 19 beside other test
 * processes). Linux only: there the nice value is per thread and `setPriority(0, …)` changes the
 * calling thread alone (setpriority(2), "BUGS"); elsewhere it would re-nice the whole process. Not
 * on Deno (os.setPriority asks for --allow-sys). Threads onnxruntime starts from here inherit it.
 */
export function lowerThreadPriority(): void {
  const g = globalThis as { Deno?: unknown };
  if (process.platform !== 'linux' || g.Deno !== undefined) return;
  const raw = process.env.CLIP_EDGE_THREAD_NICE?.trim();
  const steps = raw ? Number(raw) : DEFAULT_THREAD_NICE;
  if (!Number.isInteger(steps) || steps <= 0) return; // 0, or not a whole number: the thread keeps the process's priority
  try {
    setPriority(0, Math.min(19, getPriority(0) + steps));
  } catch {
    // Not permitted here (a sandbox): the thread runs at the process's priority, as before.
  }
}
