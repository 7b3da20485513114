// A stacked bar chart as inline SVG, built with DOM calls: no library, no
// CDN, no inline style (presentation attributes only, which the console's
// content security policy allows). Used by the console's usage screen.

const SVG = 'http://www.w3.org/2000/svg';
/** Series colours: each at least 3:1 against white (WCAG non-text contrast). */
export const PALETTE = ['#0a7d5a', '#1d4ed8', '#b45309', '#7c3aed', '#be123c', '#0e7490', '#4d7c0f', '#6b7280'];

const WIDTH = 720;
const HEIGHT = 260;
const PAD = { top: 16, right: 12, bottom: 40, left: 52 };

function el(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs ?? {})) node.setAttribute(key, String(value));
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** A round upper bound for the y axis: 1, 2 or 5 times a power of ten. */
export function niceMax(value) {
  if (!(value > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

/**
 * A stacked bar chart: one bar per label, one segment per series
 * (`{name, values}`), a legend below. `title` names it for screen readers
 * (the data is also in the tables next to it).
 */
export function barChart({ labels, series, title, id }) {
  const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] ?? 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const legendRows = Math.ceil(series.length / 4);
  const height = HEIGHT + legendRows * 20;
  const svg = el('svg', {
    viewBox: `0 0 ${WIDTH} ${height}`, role: 'img', class: 'bar-chart', id,
    'aria-labelledby': `${id}-title ${id}-desc`, 'font-size': 11,
  });
  const desc = series.length
    ? series.map((s) => `${s.name}: ${s.values.reduce((a, b) => a + b, 0)}`).join('; ')
    : 'no data';
  svg.append(el('title', { id: `${id}-title` }, title), el('desc', { id: `${id}-desc` }, desc));

  for (let i = 0; i <= 4; i += 1) {
    const value = (max * i) / 4;
    const y = PAD.top + plotH - (plotH * i) / 4;
    svg.append(
      el('line', { x1: PAD.left, x2: WIDTH - PAD.right, y1: y, y2: y, stroke: i ? '#e5e8ec' : '#9aa3ad', 'stroke-width': 1 }),
      el('text', { x: PAD.left - 6, y: y + 4, 'text-anchor': 'end', fill: '#5f6b7a' },
        Number.isInteger(value) ? value : value.toFixed(1)));
  }
  const slot = labels.length ? plotW / labels.length : plotW;
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const every = Math.max(1, Math.ceil(labels.length / 10));
  labels.forEach((label, i) => {
    const x = PAD.left + slot * i + (slot - barW) / 2;
    let base = PAD.top + plotH;
    series.forEach((s, n) => {
      const v = s.values[i] ?? 0;
      if (!v) return;
      const hgt = (plotH * v) / max;
      base -= hgt;
      svg.append(el('rect', {
        x, y: base, width: barW, height: hgt, fill: PALETTE[n % PALETTE.length], 'data-series': s.name, 'data-value': v,
      }, el('title', {}, `${label} · ${s.name}: ${v}`)));
    });
    if (i % every === 0) {
      svg.append(el('text', { x: x + barW / 2, y: PAD.top + plotH + 16, 'text-anchor': 'middle', fill: '#5f6b7a' },
        label.slice(5)));
    }
  });
  series.forEach((s, n) => {
    const x = PAD.left + (n % 4) * 165;
    const y = HEIGHT - 8 + Math.floor(n / 4) * 20;
    svg.append(
      el('rect', { x, y: y - 10, width: 12, height: 12, rx: 2, fill: PALETTE[n % PALETTE.length] }),
      el('text', { x: x + 18, y, fill: '#1f2933' }, s.name));
  });
  return svg;
}
