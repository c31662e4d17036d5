// The demo's one SVG helper: an element builder, a plot frame (axes, ticks, labels) that maps
// data coordinates to pixels, and a writer. Both figures (decision boundary, loss curves) use it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const escape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** `<name attr="…">children</name>`; attributes that are null/undefined are left out. */
export function el(name, attrs = {}, ...children) {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => ` ${k}="${escape(typeof v === 'number' ? +v.toFixed(2) : v)}"`)
    .join('');
  const body = children.flat(Infinity).join('');
  return body ? `<${name}${a}>${body}</${name}>` : `<${name}${a}/>`;
}

export const text = (x, y, s, attrs = {}) => el('text', { x, y, 'font-size': 12, ...attrs }, escape(s));

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k. */
function niceTicks(lo, hi, count = 6) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const ticks = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
  return ticks;
}

/**
 * A plot area of `width`×`height` pixels with axes for data ranges x = [x0, x1], y = [y0, y1]
 * (logY: a base-10 logarithmic y axis). Returns the pixel mappings `sx`, `sy`, the plot rectangle
 * and `chrome` (axes, ticks, labels, title) to draw on top of the content.
 */
export function plotFrame({ width, height, x, y, logY = false, title = '', xLabel = '', yLabel = '' }) {
  const m = { left: 64, right: 16, top: 36, bottom: 48 };
  const area = { x: m.left, y: m.top, w: width - m.left - m.right, h: height - m.top - m.bottom };
  const ty = logY ? Math.log10 : (v) => v;
  const [ylo, yhi] = [ty(y[0]), ty(y[1])];
  const sx = (v) => area.x + ((v - x[0]) / (x[1] - x[0])) * area.w;
  const sy = (v) => area.y + area.h - ((ty(v) - ylo) / (yhi - ylo)) * area.h;
  const xTicks = niceTicks(x[0], x[1]);
  const yTicks = logY
    ? Array.from({ length: Math.floor(yhi) - Math.ceil(ylo) + 1 }, (_, i) => 10 ** (Math.ceil(ylo) + i))
    : niceTicks(y[0], y[1]);
  const grey = { stroke: '#444', 'stroke-width': 1 };
  const chrome = [
    el('rect', { x: area.x, y: area.y, width: area.w, height: area.h, fill: 'none', ...grey }),
    xTicks.map((v) => [
      el('line', { x1: sx(v), x2: sx(v), y1: area.y + area.h, y2: area.y + area.h + 5, ...grey }),
      text(sx(v), area.y + area.h + 18, String(v), { 'text-anchor': 'middle' }),
    ]),
    yTicks.map((v) => [
      el('line', { x1: area.x - 5, x2: area.x, y1: sy(v), y2: sy(v), ...grey }),
      text(area.x - 8, sy(v) + 4, logY && v < 1e-3 ? v.toExponential(0) : String(+v.toPrecision(6)), { 'text-anchor': 'end' }),
    ]),
    text(width / 2, 22, title, { 'text-anchor': 'middle', 'font-size': 15, 'font-weight': 'bold' }),
    text(area.x + area.w / 2, height - 10, xLabel, { 'text-anchor': 'middle' }),
    text(16, area.y + area.h / 2, yLabel, { 'text-anchor': 'middle', transform: `rotate(-90 16 ${area.y + area.h / 2})` }),
  ];
  return { sx, sy, area, chrome };
}

/** A complete SVG document. */
export function svgDocument(width, height, ...children) {
  return el('svg', { xmlns: 'http://www.w3.org/2000/svg', width, height, viewBox: `0 0 ${width} ${height}`, 'font-family': 'sans-serif' },
    el('rect', { width, height, fill: 'white' }), ...children) + '\n';
}

/** Writes `doc` to `dir/name` (creating dir) and returns the path. */
export function writeSvg(dir, name, doc) {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, doc);
  return path;
}
