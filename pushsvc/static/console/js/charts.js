// Small SVG charts (no library): a line over days with target lines, and labelled horizontal bars.
import { h } from './dom.js';

const W = 640, H = 220, L = 56, R = 16, T = 16, B = 28;

function niceMax(v) {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((m) => m >= v);
}

export function lineChart({ points, targets = [], label, unit = '', width = W }) {
  const W = width;
  const maxY = niceMax(Math.max(1, ...points.map((p) => p.y), ...targets.map((t) => t.value)));
  const n = Math.max(points.length - 1, 1);
  const x = (i) => L + ((W - L - R) * i) / n;
  const y = (v) => T + (H - T - B) * (1 - v / maxY);
  const svg = h('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label });
  for (let k = 0; k <= 4; k++) {
    const v = (maxY * k) / 4;
    svg.append(h('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
      h('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' }, v.toLocaleString('ja-JP', { maximumFractionDigits: 1 })));
  }
  for (const t of targets) {
    svg.append(h('line', { x1: L, x2: W - R, y1: y(t.value), y2: y(t.value), class: 'target' }),
      h('text', { x: W - R, y: y(t.value) - 4, 'text-anchor': 'end', class: 'target-label' },
        `${t.label} 目標 ${t.value.toLocaleString('ja-JP')}${unit}`));
  }
  if (points.length) {
    const pts = points.map((p, i) => `${x(i).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
    svg.append(h('polygon', { points: `${L},${y(0)} ${pts} ${x(points.length - 1).toFixed(1)},${y(0)}`, class: 'fill' }),
      h('polyline', { points: pts, class: 'line' }));
    const last = points[points.length - 1];
    svg.append(h('circle', { cx: x(points.length - 1), cy: y(last.y), r: 4, class: 'dot' }));
    const ticks = [0, Math.floor(n / 2), points.length - 1];
    for (const i of [...new Set(ticks)]) {
      svg.append(h('text', { x: x(i), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === points.length - 1 ? 'end' : 'middle', class: 'axis' },
        points[i].x));
    }
  }
  return svg;
}

// rows: [{label, value, target?, text?}]; a target draws a tick and the bar turns green once it is met.
export function barList({ rows, label, max }) {
  const top = max ?? Math.max(1, ...rows.map((r) => Math.max(r.value, r.target ?? 0)));
  return h('div', { class: 'bars', role: 'list', 'aria-label': label }, rows.map((r) => {
    const fill = h('span', { class: `fill${r.target && r.value >= r.target ? ' met' : ''}${r.cls ? ' ' + r.cls : ''}` });
    fill.style.width = `${Math.min(100, (100 * r.value) / top)}%`;
    const track = h('span', { class: 'track' }, fill);
    if (r.target) {
      const tick = h('span', { class: 'tick', title: `目標 ${r.target.toLocaleString('ja-JP')}` });
      tick.style.left = `${Math.min(100, (100 * r.target) / top)}%`;
      track.append(tick);
    }
    return h('div', { class: 'bar-row', role: 'listitem' }, h('span', { class: 'bar-label' }, r.label), track,
      h('span', { class: 'bar-value' }, r.text ?? r.value.toLocaleString('ja-JP')));
  }));
}

// Daily columns (portal access).
export function columns({ values, label }) {
  const max = niceMax(Math.max(1, ...values.map((v) => v.y)));
  const w = (W - L - R) / Math.max(values.length, 1);
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = h('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label });
  svg.append(h('text', { x: L - 6, y: y(max) + 4, 'text-anchor': 'end', class: 'axis' }, max.toLocaleString('ja-JP')),
    h('line', { x1: L, x2: W - R, y1: y(0), y2: y(0), class: 'grid' }));
  values.forEach((v, i) => svg.append(h('rect', { x: L + i * w + 0.5, y: y(v.y), width: Math.max(w - 1, 1), height: y(0) - y(v.y), class: 'col' },
    h('title', {}, `${v.x}: ${v.y}`))));
  if (values.length) {
    svg.append(h('text', { x: L, y: H - 8, class: 'axis' }, values[0].x),
      h('text', { x: W - R, y: H - 8, 'text-anchor': 'end', class: 'axis' }, values[values.length - 1].x));
  }
  return svg;
}
