// Tiny DOM helpers: elements are built with textContent, never from HTML strings carrying data.
export function h(tag, attrs = {}, ...children) {
  const svg = ['svg', 'g', 'path', 'rect', 'line', 'polyline', 'polygon', 'circle', 'text', 'title', 'defs',
    'pattern', 'tspan'].includes(tag);
  const el = svg ? document.createElementNS('http://www.w3.org/2000/svg', tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.setAttribute('class', v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && !svg && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// replaceChildren() would print null as text; conditional parts are dropped instead.
export function fill(root, ...children) { root.replaceChildren(...children.flat().filter(Boolean)); }

export const $ = (sel, root = document) => root.querySelector(sel);

export function fmtInt(n) { return n === null || n === undefined ? '—' : Number(n).toLocaleString('ja-JP'); }

const JST = { timeZone: 'Asia/Tokyo' };
export function fmtTime(iso) {
  if (!iso) return '—';
  return new Date(iso).toLocaleString('ja-JP', { ...JST, month: 'numeric', day: 'numeric', hour: '2-digit',
    minute: '2-digit', second: '2-digit' });
}

export function fmtSeconds(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return '—';
  if (s < 10) return `${s.toFixed(1)} 秒`;
  if (s < 120) return `${Math.round(s)} 秒`;
  return `${Math.floor(s / 60)} 分 ${Math.round(s % 60)} 秒`;
}

let toastTimer;
export function toast(text, kind = 'info') {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.dataset.kind = kind;
  t.classList.add('show');
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => t.classList.remove('show'), 5000);
}

// A modal confirmation; resolves true only when the operator presses the (non-default) OK button.
export function confirmDialog({ title, body, ok, danger = true }) {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-h').textContent = title;
  const b = document.getElementById('confirm-body');
  b.replaceChildren(...[body].flat().filter(Boolean));
  const okBtn = document.getElementById('confirm-ok');
  okBtn.textContent = ok;
  okBtn.className = danger ? 'danger-fill' : 'primary';
  d.returnValue = '';
  d.showModal();
  return new Promise((resolve) => d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true }));
}
