/**
 * A small throughput–latency chart as standalone SVG (no dependencies): throughput (infer/sec) on x,
 * client latency on y (usec, or ms when the latencies are large), one polyline with point markers per
 * latency series (the stabilizing latency, p50, p90, p95, p99), each load level labelled on the first
 * series, axes with "nice" ticks, a legend and a title.
 */
import type { PerfStatus } from './stats.js';

/** What the chart shows. */
export interface PlotInput {
  /** Chart title, e.g. the model name. */
  title: string;
  /** Second title line (batch size, protocol …). */
  subtitle?: string;
  /** Load levels in load order. */
  levels: PerfStatus[];
  /** `--percentile` (the first series is then pNN instead of the average). */
  percentile?: number;
}

const W = 680;
const H = 420;
const M = { left: 72, right: 120, top: 52, bottom: 52 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Round ticks covering `[min, max]`, about `count` of them, steps of 1, 2, 2.5 or 5 × 10^k. The axis
 * starts at 0 unless the values are bunched far from it (min above half of max), when it starts at a
 * round value a little below min.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  let from = 0;
  if (min > 0.5 * max) from = min === max ? min * 0.8 : Math.max(0, min - (max - min) * 0.25);
  const raw = (max - from) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let t = Math.floor(from / step) * step; ; t += step) {
    const v = Number(t.toPrecision(12));
    ticks.push(v);
    if (v >= max) break;
  }
  return ticks;
}

/** A tick label; a whole axis uses the same unit (k or M) as its largest tick needs. */
function tickLabel(v: number, axisMax: number): string {
  if (v === 0) return '0';
  if (axisMax >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (axisMax >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(4)));
}

const f = (x: number) => x.toFixed(1);

/** The chart as an SVG document. */
export function renderPlot(p: PlotInput): string {
  const levels = [...p.levels].sort(
    (a, b) => (a.concurrency ?? a.requestRate!) - (b.concurrency ?? b.requestRate!),
  );
  const main = p.percentile === undefined ? 'avg' : `p${p.percentile}`;
  const series: { name: string; values: number[] }[] = [
    { name: `${main} latency`, values: levels.map((l) => l.stabilizingLatencyNs) },
  ];
  for (const q of [50, 90, 95, 99]) {
    if (q === p.percentile) continue;
    series.push({
      name: `p${q} latency`,
      values: levels.map((l) => l.client.percentileLatencyNs.get(q) ?? NaN),
    });
  }
  const xs = levels.map((l) => l.client.inferPerSec);
  const maxNs = Math.max(0, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const inMs = maxNs >= 10e6;
  const scale = inMs ? 1e6 : 1e3;
  const unit = inMs ? 'ms' : 'usec';
  const minNs = Math.min(...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const xTicks = niceTicks(Math.min(...xs), Math.max(0, ...xs));
  const yTicks = niceTicks(minNs / scale, maxNs / scale);
  const [xMin, xMax] = [xTicks[0], xTicks[xTicks.length - 1]];
  const [yMin, yMax] = [yTicks[0], yTicks[yTicks.length - 1]];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (v: number) => M.left + ((v - xMin) / (xMax - xMin)) * pw;
  const py = (v: number) => M.top + ph - ((v - yMin) / (yMax - yMin)) * ph;

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  out.push(`<text x="${M.left}" y="22" font-size="15" font-weight="bold">${esc(p.title)}</text>`);
  if (p.subtitle) out.push(`<text x="${M.left}" y="39" fill="#555555">${esc(p.subtitle)}</text>`);
  // Grid, ticks and tick labels.
  out.push('<g stroke="#e4e4e4" stroke-width="1">');
  for (const t of yTicks)
    out.push(`<line x1="${M.left}" y1="${f(py(t))}" x2="${M.left + pw}" y2="${f(py(t))}"/>`);
  for (const t of xTicks)
    out.push(`<line x1="${f(px(t))}" y1="${M.top}" x2="${f(px(t))}" y2="${M.top + ph}"/>`);
  out.push('</g>');
  out.push('<g fill="#333333">');
  for (const t of yTicks) {
    out.push(`<text x="${M.left - 8}" y="${f(py(t) + 4)}" text-anchor="end">${tickLabel(t, yMax)}</text>`);
  }
  for (const t of xTicks) {
    out.push(
      `<text x="${f(px(t))}" y="${M.top + ph + 18}" text-anchor="middle">${tickLabel(t, xMax)}</text>`,
    );
  }
  out.push('</g>');
  // Axes and their titles.
  out.push(
    `<path d="M${M.left},${M.top} V${M.top + ph} H${M.left + pw}" fill="none" stroke="#333333" stroke-width="1.2"/>`,
  );
  out.push(
    `<text x="${f(M.left + pw / 2)}" y="${H - 12}" text-anchor="middle">Throughput (infer/sec)</text>`,
    `<text x="18" y="${f(M.top + ph / 2)}" text-anchor="middle" transform="rotate(-90 18 ${f(M.top + ph / 2)})">Latency (${unit})</text>`,
  );
  // Series.
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = levels
      .map((_, k) => [xs[k], s.values[k] / scale] as const)
      .filter(([, y]) => Number.isFinite(y))
      .map(([x, y]) => `${f(px(x))},${f(py(y))}`);
    out.push(`<g stroke="${color}" fill="${color}">`);
    if (pts.length > 1) {
      out.push(
        `<polyline points="${pts.join(' ')}" fill="none" stroke-width="${i === 0 ? 2.2 : 1.4}"${i === 0 ? '' : ' stroke-dasharray="5 3"'}/>`,
      );
    }
    for (const pt of pts) {
      const [cx, cy] = pt.split(',');
      out.push(`<circle cx="${cx}" cy="${cy}" r="${i === 0 ? 3.5 : 2.5}"/>`);
    }
    out.push('</g>');
    const ly = M.top + 6 + i * 18;
    const lx = M.left + pw + 14;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="2"${i === 0 ? '' : ' stroke-dasharray="5 3"'}/>`,
      `<text x="${lx + 28}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  // Load level labels on the first series.
  out.push('<g fill="#555555" font-size="10">');
  levels.forEach((l, k) => {
    const y = series[0].values[k] / scale;
    if (!Number.isFinite(y)) return;
    const label =
      l.concurrency !== undefined ? `c=${l.concurrency}` : `${Number(l.requestRate!.toPrecision(4))}/s`;
    out.push(`<text x="${f(px(xs[k]) - 4)}" y="${f(py(y) - 8)}" text-anchor="end">${esc(label)}</text>`);
  });
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}
