// The prefecture as SVG from our own GET /api/v1/geo/municipalities GeoJSON: no tiles, nothing from the internet.
// Municipalities are focusable checkboxes (click, Enter or Space); a polygon can be drawn by clicking vertices.
import { api } from './api.js';
import { h } from './dom.js';

const WIDTH = 1000;
let geoPromise = null;

export function loadGeo() {
  // ~100 m simplification keeps the file small and the outline faithful at this scale.
  geoPromise ??= api('/api/v1/geo/municipalities?simplify=100', { auth: false }).then(prepare);
  return geoPromise;
}

function polygonsOf(geometry) {
  if (geometry.type === 'Polygon') return [geometry.coordinates];
  if (geometry.type === 'MultiPolygon') return geometry.coordinates;
  return [];
}

function prepare(fc) {
  let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
  for (const f of fc.features) for (const poly of polygonsOf(f.geometry)) for (const [x, y] of poly[0]) {
    minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y);
  }
  const kx = Math.cos(((minY + maxY) / 2) * Math.PI / 180);
  const s = WIDTH / ((maxX - minX) * kx);
  const pad = 10;
  const proj = {
    project: (lon, lat) => [pad + (lon - minX) * kx * s, pad + (maxY - lat) * s],
    unproject: (x, y) => [minX + (x - pad) / (kx * s), maxY - (y - pad) / s],
    width: WIDTH + 2 * pad, height: (maxY - minY) * s + 2 * pad,
  };
  const features = fc.features.map((f) => {
    const rings = polygonsOf(f.geometry).map((poly) => poly.map((ring) => ring.map(([x, y]) => proj.project(x, y))));
    const d = rings.map((poly) => poly.map((ring) => 'M' + ring.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`)
      .join('L') + 'Z').join('')).join('');
    return { code: f.properties.code, name: f.properties.name, d, label: labelPoint(rings) };
  }).sort((a, b) => a.code.localeCompare(b.code));
  return { attribution: fc.attribution, features, proj, names: Object.fromEntries(features.map((f) => [f.code, f.name])) };
}

function inside([px, py], ring) {
  let c = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i], [xj, yj] = ring[j];
    if ((yi > py) !== (yj > py) && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) c = !c;
  }
  return c;
}

// A point well inside the largest part: the grid point farthest from the outline (for labels and clicks).
function labelPoint(rings) {
  let best = null, bestArea = -1;
  for (const poly of rings) {
    const xs = poly[0].map((p) => p[0]), ys = poly[0].map((p) => p[1]);
    const area = (Math.max(...xs) - Math.min(...xs)) * (Math.max(...ys) - Math.min(...ys));
    if (area > bestArea) { bestArea = area; best = { poly, x0: Math.min(...xs), x1: Math.max(...xs), y0: Math.min(...ys), y1: Math.max(...ys) }; }
  }
  if (!best) return [0, 0];
  const outer = best.poly[0];
  let pick = [(best.x0 + best.x1) / 2, (best.y0 + best.y1) / 2], far = -1;
  const n = 14;
  for (let i = 1; i < n; i++) for (let j = 1; j < n; j++) {
    const p = [best.x0 + (best.x1 - best.x0) * i / n, best.y0 + (best.y1 - best.y0) * j / n];
    if (!inside(p, outer) || best.poly.slice(1).some((hole) => inside(p, hole))) continue;
    let dmin = Infinity;
    for (const q of outer) dmin = Math.min(dmin, (q[0] - p[0]) ** 2 + (q[1] - p[1]) ** 2);
    if (dmin > far) { far = dmin; pick = p; }
  }
  return pick;
}

export class MunicipalityMap {
  constructor(geo, { selectable = false, allowed = () => true, onToggle, onDrawn, onDenied, label = '高知県の市町村' } = {}) {
    this.geo = geo;
    this.opts = { selectable, allowed, onToggle, onDrawn, onDenied };
    this.paths = new Map();
    this.drawing = null;
    const { width, height } = geo.proj;
    this.labels = h('g', { class: 'labels', 'aria-hidden': 'true' });
    this.overlay = h('g', { class: 'overlay' });
    this.svg = h('svg', { viewBox: `0 0 ${width.toFixed(0)} ${height.toFixed(0)}`, class: 'map', role: 'group',
      'aria-label': label, preserveAspectRatio: 'xMidYMid meet' });
    const g = h('g', { class: 'munis' });
    for (const f of geo.features) {
      const ok = allowed(f.code);
      const p = h('path', { d: f.d, class: ok ? 'muni' : 'muni out', 'data-code': f.code, 'data-name': f.name,
        'aria-label': f.name + (ok ? '' : '（担当外）') },
      h('title', {}, f.name + (ok ? '' : '（担当外）')));
      if (selectable) {
        p.setAttribute('role', 'checkbox');
        p.setAttribute('aria-checked', 'false');
        p.setAttribute('tabindex', '0');
        if (!ok) p.setAttribute('aria-disabled', 'true');
        p.addEventListener('click', (e) => { if (!this.drawing) { e.stopPropagation(); this.toggle(f.code); } });
        p.addEventListener('keydown', (e) => {
          if (this.drawing) return;  // Enter closes the polygon being drawn; it must not also select
          if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.toggle(f.code); }
        });
      }
      this.paths.set(f.code, p);
      g.append(p);
      this.labels.append(h('text', { x: f.label[0].toFixed(1), y: f.label[1].toFixed(1), 'data-code': f.code,
        'text-anchor': 'middle', 'dominant-baseline': 'middle' }, f.name));
    }
    this.svg.append(g, this.overlay, this.labels);
    this.svg.addEventListener('click', (e) => this.drawClick(e));
    this.svg.addEventListener('dblclick', (e) => { if (this.drawing) { e.preventDefault(); this.finishDraw(); } });
    this.el = h('div', { class: 'map-wrap' }, this.svg,
      h('p', { class: 'credit' }, geo.attribution));
  }

  toggle(code) {
    if (!this.opts.allowed(code)) {
      this.opts.onDenied?.(code);
      return;
    }
    this.opts.onToggle?.(code);
  }

  setSelected(codes) {
    for (const [code, p] of this.paths) {
      const on = codes.has(code);
      p.classList.toggle('selected', on);
      if (this.opts.selectable) p.setAttribute('aria-checked', String(on));
    }
  }

  // Municipalities the whole target reaches (from the server's preview): the drawn area and presets included.
  setTouched(codes) {
    for (const [code, p] of this.paths) p.classList.toggle('touched', codes.has(code));
    for (const t of this.labels.children) t.classList.toggle('shown', codes.has(t.dataset.code));
  }

  showAllLabels(on = true) { this.labels.classList.toggle('all', on); }

  // Choropleth: values by code on a sequential scale, with a legend of five steps.
  setValues(values, { legendTitle = '' } = {}) {
    const max = Math.max(1, ...Object.values(values));
    const step = (v) => (v <= 0 ? 0 : Math.min(5, Math.ceil((v / max) * 5)));
    for (const [code, p] of this.paths) {
      const v = values[code] ?? 0;
      p.setAttribute('data-step', String(step(v)));
      p.querySelector('title').textContent = `${this.geo.names[code]}: ${v.toLocaleString('ja-JP')}`;
    }
    const legend = h('div', { class: 'legend', 'aria-label': legendTitle }, h('span', {}, legendTitle),
      ...[0, 1, 2, 3, 4, 5].filter((s) => s === 0 || s === 5 || Math.ceil((max * s) / 5) > Math.ceil((max * (s - 1)) / 5))
        .map((s) => h('span', { class: 'sw', 'data-step': String(s) },
          s === 0 ? '0' : `〜${Math.ceil((max * s) / 5).toLocaleString('ja-JP')}`)));
    this.el.querySelector('.legend')?.remove();
    this.el.append(legend);
  }

  // Screen coordinates of a municipality's inner point (what a pointer would click).
  pointOf(code) {
    const f = this.geo.features.find((x) => x.code === code);
    const pt = new DOMPoint(f.label[0], f.label[1]).matrixTransform(this.svg.getScreenCTM());
    return { x: pt.x, y: pt.y };
  }

  // Drawing: click vertices, double-click or Enter to close, Backspace removes the last, Escape abandons.
  startDraw() {
    this.drawing = [];
    this.svg.classList.add('drawing');
    this.keys = (e) => {
      if (e.key === 'Escape') this.cancelDraw();
      else if (e.key === 'Enter') this.finishDraw();
      else if (e.key === 'Backspace') { this.drawing.pop(); this.renderDraft(); }
    };
    document.addEventListener('keydown', this.keys);
    this.renderDraft();
  }

  drawClick(e) {
    if (!this.drawing) return;
    const pt = new DOMPoint(e.clientX, e.clientY).matrixTransform(this.svg.getScreenCTM().inverse());
    this.drawing.push([pt.x, pt.y]);
    this.renderDraft();
  }

  renderDraft() {
    this.overlay.querySelector('.draft')?.remove();
    if (!this.drawing) return;
    const pts = this.drawing.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
    this.overlay.append(h('g', { class: 'draft' }, h('polyline', { points: pts }),
      ...this.drawing.map(([x, y]) => h('circle', { cx: x, cy: y, r: 5 }))));
  }

  endDraw() {
    document.removeEventListener('keydown', this.keys);
    this.svg.classList.remove('drawing');
    const pts = this.drawing;
    this.drawing = null;
    this.renderDraft();
    return pts;
  }

  cancelDraw() { this.endDraw(); this.opts.onDrawn?.(null); }

  finishDraw() {
    const pts = (this.endDraw() || []).filter((p, i, all) => i === 0 || Math.hypot(p[0] - all[i - 1][0], p[1] - all[i - 1][1]) > 2);
    if (pts.length < 3) { this.opts.onDrawn?.(null); return; }
    const ring = pts.map(([x, y]) => this.geo.proj.unproject(x, y).map((v) => Math.round(v * 1e5) / 1e5));
    ring.push(ring[0]);
    this.opts.onDrawn?.({ type: 'Polygon', coordinates: [ring] });
  }

  setArea(geojson) {
    this.overlay.querySelector('.area')?.remove();
    if (!geojson) return;
    const d = geojson.coordinates.map((ring) => 'M' + ring.map(([lon, lat]) => this.geo.proj.project(lon, lat)
      .map((v) => v.toFixed(1)).join(',')).join('L') + 'Z').join('');
    this.overlay.append(h('path', { class: 'area', d }));
  }
}
