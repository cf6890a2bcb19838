// A grouped horizontal bar chart as a standalone SVG. Hand-written (about 60 lines) because the
// bench needs one chart type, static files with no browser or canvas, and no dependency for it.
export interface BarGroup {
  label: string;
  /** One value per series (undefined: not measured). */
  values: (number | undefined)[];
}

export interface BarChart {
  title: string;
  unit: string;
  series: string[];
  groups: BarGroup[];
}

const COLORS = ['#2563eb', '#f97316', '#16a34a', '#9333ea', '#dc2626', '#0891b2'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export function barChartSvg(c: BarChart): string {
  const barH = 14;
  const gap = 10;
  const left = 260;
  const plotW = 420;
  const top = 44 + 18 * Math.ceil(c.series.length / 3);
  const groupH = c.series.length * barH + gap;
  const height = top + c.groups.length * groupH + 30;
  const width = left + plotW + 90;
  const max = Math.max(1e-9, ...c.groups.flatMap((g) => g.values.filter((v): v is number => v !== undefined)));
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(c.title)}</text>`,
  ];
  c.series.forEach((s, i) => {
    const x = 10 + (i % 3) * 250;
    const y = 36 + Math.floor(i / 3) * 18;
    out.push(`<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${COLORS[i % COLORS.length]}"/>`, `<text x="${x + 18}" y="${y}">${esc(s)}</text>`);
  });
  c.groups.forEach((g, gi) => {
    const y0 = top + gi * groupH;
    out.push(`<text x="${left - 8}" y="${y0 + (c.series.length * barH) / 2 + 4}" text-anchor="end">${esc(g.label)}</text>`);
    g.values.forEach((v, si) => {
      const y = y0 + si * barH;
      if (v === undefined) {
        out.push(`<text x="${left + 4}" y="${y + barH - 3}" fill="#888">not measured</text>`);
        return;
      }
      const w = Math.max(1, (v / max) * plotW);
      out.push(
        `<rect class="bar" x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${COLORS[si % COLORS.length]}"><title>${esc(`${c.series[si]}: ${fmt(v)} ${c.unit}`)}</title></rect>`,
        `<text x="${(left + w + 4).toFixed(1)}" y="${y + barH - 3}">${fmt(v)}</text>`,
      );
    });
  });
  out.push(`<line x1="${left}" y1="${top - 4}" x2="${left}" y2="${height - 24}" stroke="#333"/>`, `<text x="${left + plotW}" y="${height - 8}" text-anchor="end" fill="#555">${esc(c.unit)}</text>`, '</svg>');
  return `${out.join('\n')}\n`;
}
