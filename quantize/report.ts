import type { TowerReport } from './folder.ts';

const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : `${(x * 100).toFixed(1)} %`);
const mb = (b: number) => (b >= 2 ** 20 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 1024).toFixed(0)} KiB`);

/**
 * The verification table, as Markdown (the CLI prints it; bench/results quote it). "margin" is the
 * median cosine gap between float32's first and second class: when it is tiny (random weights),
 * top-1 agreement measures ties, not the variant.
 */
export function verificationTable(reports: readonly TowerReport[], evalSet = 'tiny-clip-eval'): string {
  const head = [
    'variant', 'tower', 'size', '× fp32', 'cosine mean', 'cosine min', 'top-1 agreement', `top-1 acc. ${evalSet} fp32 → variant`, 'latency ms (fp32)', '× fp32', 'gate',
  ];
  const rows = reports.map((r) => [
    r.variant,
    r.tower,
    mb(r.bytes),
    r.sizeRatio.toFixed(3),
    r.cosine.mean.toFixed(5),
    r.cosine.min.toFixed(5),
    r.top1 ? `${pct(r.top1.agreement)} (n=${r.top1.n}, margin ${r.top1.fp32MarginMedian.toPrecision(2)})` : '–',
    r.top1?.accuracy[evalSet] ? `${pct(r.top1.accuracy[evalSet].fp32)} → ${pct(r.top1.accuracy[evalSet].variant)}` : '–',
    `${r.latency.ms.toFixed(1)} (${r.latency.fp32Ms.toFixed(1)})`,
    r.latency.ratio.toFixed(2),
    r.gate.passed ? 'pass' : r.written ? 'FAIL (forced)' : 'FAIL',
  ]);
  return [head, head.map(() => '---'), ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}
