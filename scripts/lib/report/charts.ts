// The page's charts, drawn as SVG when the report is written: d3's scales place and colour the
// marks, and the SVG is written here, so the page needs no script, no server and no network.
// Every chart carries a title and a description (role="img"); the page puts a table beside it.
import { scaleBand, scaleLinear } from 'd3-scale';

export const escapeXml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** About how wide `text` is at `size` px in the page's sans-serif face: SVG text cannot be measured here. */
const textWidth = (text: string, size = 11) => Math.ceil(text.length * size * 0.58);
const px = (n: number) => Math.round(n * 10) / 10;

let chartNumber = 0;
/** The opening of a chart: its size, and its title and description as its accessible name. */
function open(width: number, height: number, title: string, desc: string): string {
  const id = `chart${++chartNumber}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="${id}t ${id}d">`
    + `<title id="${id}t">${escapeXml(title)}</title><desc id="${id}d">${escapeXml(desc)}</desc>`
    + `<text class="title" x="0" y="14">${escapeXml(title)}</text>`;
}

export interface HeatmapInput {
  title: string;
  desc: string;
  columns: string[];
  rows: Array<{ label: string; shares: number[] }>;
  xLabel: string;
  yLabel: string;
}

const FULL = '#1a9850';
/** A share of 1 is full green; anything short of it leaves green at once, down to red at 0. */
export const shareColour = (() => {
  const scale = scaleLinear<string>().domain([0, 0.5, 0.999]).range(['#b2182b', '#fdae61', '#fee08b']).clamp(true);
  return (share: number) => (share >= 1 ? FULL : scale(share));
})();

/** Rows × columns of shares (0–1): a row's full cells are one rectangle, only the others are drawn one by one. */
export function heatmap(h: HeatmapInput): string {
  const left = Math.max(60, ...h.rows.map((r) => textWidth(r.label))) + 28;
  const cell = Math.max(4, Math.min(16, Math.floor(880 / Math.max(1, h.columns.length))));
  const rowHeight = h.rows.length > 20 ? 12 : 16;
  const top = 28;
  const x = scaleBand<number>().domain(h.columns.map((_, i) => i)).range([left, left + cell * h.columns.length]);
  const y = scaleBand<number>().domain(h.rows.map((_, i) => i)).range([top, top + rowHeight * h.rows.length]).paddingInner(0.12);
  const plotBottom = top + rowHeight * h.rows.length;
  const width = Math.max(left + cell * h.columns.length + 40, 420);
  const height = plotBottom + 78;
  const parts = [open(width, height, h.title, h.desc)];
  h.rows.forEach((r, i) => {
    const yy = px(y(i)!);
    parts.push(`<text class="tick" x="${left - 6}" y="${px(yy + y.bandwidth() / 2 + 4)}" text-anchor="end">${escapeXml(r.label)}</text>`);
    parts.push(`<rect x="${left}" y="${yy}" width="${cell * h.columns.length}" height="${px(y.bandwidth())}" fill="${FULL}"/>`);
    r.shares.forEach((s, j) => {
      if (s < 1) parts.push(`<rect x="${x(j)}" y="${yy}" width="${cell}" height="${px(y.bandwidth())}" fill="${shareColour(s)}"><title>${escapeXml(`${r.label}, ${h.columns[j]}: ${Math.round(s * 100)}%`)}</title></rect>`);
    });
  });
  // A date every so many columns, so that the labels do not overlap.
  const every = Math.max(1, Math.ceil(84 / cell));
  for (let j = h.columns.length - 1; j >= 0; j -= every) {
    const cx = px(x(j)! + cell / 2);
    parts.push(`<line class="axis" x1="${cx}" x2="${cx}" y1="${plotBottom}" y2="${plotBottom + 4}"/><text class="tick" x="${cx}" y="${plotBottom + 16}" text-anchor="middle">${escapeXml(h.columns[j])}</text>`);
  }
  parts.push(`<text class="label" x="${left + (cell * h.columns.length) / 2}" y="${plotBottom + 34}" text-anchor="middle">${escapeXml(h.xLabel)}</text>`);
  parts.push(`<text class="label" transform="translate(12 ${px((top + plotBottom) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(h.yLabel)}</text>`);
  // The legend: the colour of each share.
  const legendX = left;
  const legendY = plotBottom + 46;
  const stops = [0, 0.25, 0.5, 0.75, 0.99, 1];
  parts.push(`<text class="tick" x="${legendX}" y="${legendY + 11}">share of the row's tickers with a bar:</text>`);
  const legendStart = legendX + textWidth('share of the row\'s tickers with a bar:') + 8;
  stops.forEach((s, i) => {
    const lx = legendStart + i * 46;
    parts.push(`<rect x="${lx}" y="${legendY + 2}" width="12" height="12" fill="${shareColour(s)}"/><text class="tick" x="${lx + 15}" y="${legendY + 12}">${s === 0.99 ? '<100' : Math.round(s * 100)}%</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface BarsInput {
  title: string;
  desc: string;
  bars: Array<{ label: string; value: number; colour?: string; note?: string }>;
  /** The value axis' label. */
  xLabel: string;
  yLabel: string;
  format?: (n: number) => string;
  /** Values are bytes: the axis counts in the unit that fits the largest (kB, MB, GB). */
  bytes?: boolean;
  width?: number;
  /** Whole numbers only (counts): no tick between two integers. */
  integers?: boolean;
}

/** Horizontal bars, one per labelled value, on a linear axis from 0 with d3's ticks. */
export function bars(b: BarsInput): string {
  const format = b.format ?? ((n: number) => n.toLocaleString('en-US'));
  const left = Math.max(60, ...b.bars.map((r) => textWidth(r.label))) + 30;
  const width = b.width ?? 760;
  const valueRoom = Math.max(60, ...b.bars.map((r) => textWidth(`${format(r.value)}${r.note ? ` ${r.note}` : ''}`))) + 10;
  const top = 40;
  const rowHeight = 20;
  const plotBottom = top + rowHeight * b.bars.length;
  const max = Math.max(1, ...b.bars.map((r) => r.value));
  // Ticks on round numbers of the unit shown: 100 MB, not 97.7 MB.
  const unit = b.bytes ? Math.min(4, Math.floor(Math.log(max) / Math.log(1024))) : 0;
  const per = 1024 ** unit;
  const unitScale = scaleLinear().domain([0, max / per]).nice();
  const x = scaleLinear().domain(unitScale.domain().map((v) => v * per)).range([left, width - valueRoom]);
  const tickLabel = (t: number) => (b.bytes ? `${t / per} ${['B', 'kB', 'MB', 'GB', 'TB'][unit]}` : format(t));
  const y = scaleBand<number>().domain(b.bars.map((_, i) => i)).range([top, plotBottom]).paddingInner(0.25);
  const parts = [open(width, plotBottom + 44, b.title, b.desc)];
  for (const t of unitScale.ticks(5).map((v) => v * per).filter((v) => !b.integers || Number.isInteger(v))) {
    const tx = px(x(t));
    parts.push(`<line class="grid" x1="${tx}" x2="${tx}" y1="${top}" y2="${plotBottom}"/><text class="tick" x="${tx}" y="${plotBottom + 14}" text-anchor="middle">${escapeXml(tickLabel(t))}</text>`);
  }
  b.bars.forEach((r, i) => {
    const yy = px(y(i)!);
    const w = Math.max(r.value > 0 ? 1 : 0, px(x(r.value) - left));
    parts.push(`<text class="tick" x="${left - 6}" y="${px(yy + y.bandwidth() / 2 + 4)}" text-anchor="end">${escapeXml(r.label)}</text>`
      + `<rect x="${left}" y="${yy}" width="${w}" height="${px(y.bandwidth())}" fill="${r.colour ?? '#4575b4'}"/>`
      + `<text class="value" x="${px(left + w + 4)}" y="${px(yy + y.bandwidth() / 2 + 4)}">${escapeXml(`${format(r.value)}${r.note ? ` ${r.note}` : ''}`)}</text>`);
  });
  parts.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${plotBottom}"/>`);
  parts.push(`<text class="label" x="${px((left + width - valueRoom) / 2)}" y="${plotBottom + 32}" text-anchor="middle">${escapeXml(b.xLabel)}</text>`);
  // The categories' name above them, level: a few bars leave no room for it turned on its side.
  parts.push(`<text class="label" x="${left - 6}" y="${top - 6}" text-anchor="end">${escapeXml(b.yLabel)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

/** Bytes as people read them: 1.2 GB, 340 MB (powers of 1024). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v >= 100 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
