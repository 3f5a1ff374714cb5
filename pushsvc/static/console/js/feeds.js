// Feeds and rivers: every source's health, and each gauge's latest level against its thresholds.
import { api } from './api.js';
import { fill, fmtTime, h } from './dom.js';
import { loadGeo } from './map.js';

const FEED_STATUS = { ok: '正常', failing: '失敗中', down: '停止', 'not polled yet': '未取得' };
const STAGES = [['start', '観測開始'], ['standby', '水防団待機'], ['caution', '氾濫注意'], ['evacuation', '避難判断'],
  ['danger', '氾濫危険'], ['flooding', '氾濫発生']];
const STAGE_JA = { normal: '平常', ...Object.fromEntries(STAGES) };
let timer = null;

export function stopFeeds() { clearTimeout(timer); timer = null; }

function gauge(s) {
  const th = STAGES.map(([k, label]) => [k, label, s.thresholds[k]]).filter(([, , v]) => v !== null && v !== undefined);
  if (!th.length) return h('span', { class: 'hint' }, '基準値なし');
  const lo = Math.min(...th.map((t) => t[2])) - 1, hi = Math.max(...th.map((t) => t[2]), s.level ?? -Infinity) + 0.5;
  const pct = (v) => `${Math.max(0, Math.min(100, (100 * (v - lo)) / (hi - lo)))}%`;
  const track = h('div', { class: 'gauge', role: 'img',
    'aria-label': `水位 ${s.level ?? '基準未満'} m、${th.map(([, l, v]) => `${l} ${v} m`).join('、')}` });
  for (const [k, label, v] of th) {
    const t = h('span', { class: `th ${k}`, title: `${label} ${v} m` });
    t.style.left = pct(v);
    track.append(t);
  }
  if (s.level !== null) {
    const f = h('span', { class: `level ${s.stage}` });
    f.style.width = pct(s.level);
    track.prepend(f);
  }
  return track;
}

export async function renderFeeds(root) {
  stopFeeds();
  const geo = await loadGeo();
  const [feeds, rivers] = await Promise.all([api('/api/v1/feeds', { auth: false }), api('/api/v1/rivers/stations', { auth: false })]);
  const order = ['flooding', 'danger', 'evacuation', 'caution', 'standby', 'start', 'normal'];
  const level = (s) => (!s.healthy ? 'down' : s.status === 'failing' ? 'warn' : 'ok');
  const trouble = feeds.sources.filter((s) => s.enabled && level(s) !== 'ok').length;
  const stations = [...rivers.stations].sort((a, b) => order.indexOf(a.stage) - order.indexOf(b.stage) || a.code.localeCompare(b.code));
  fill(root,
    h('div', { class: 'screen-head' }, h('h2', { id: 'feeds-h' }, '情報源・河川'),
      // No source configured is not "all fine": no river or JMA alert can reach anyone.
      !feeds.sources.length ? h('span', { class: 'status warn', id: 'feeds-status' }, '情報源が未設定') :
      h('span', { class: `status ${feeds.healthy ? (trouble ? 'warn' : 'ok') : 'down'}`, id: 'feeds-status' },
        trouble ? `要確認 ${trouble} 件` : 'すべて正常')),
    h('section', { class: 'card', 'aria-labelledby': 'f-src' }, h('h3', { id: 'f-src' }, '情報源の状態'),
      feeds.sources.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
        h('thead', {}, h('tr', {}, ['情報源', '種類', '状態', '最終成功', '連続失敗', '最後のエラー', '次回'].map((t) => h('th', {}, t)))),
        h('tbody', {}, feeds.sources.map((s) => h('tr', { class: { down: 'bad', warn: 'warn', ok: '' }[level(s)], 'data-feed': s.name },
          h('td', {}, s.name, s.enabled ? '' : '（無効）', s.configured ? '' : '（設定外）'), h('td', {}, s.kind),
          h('td', {}, h('span', { class: `status ${level(s)}` }, FEED_STATUS[s.status] || s.status)),
          h('td', {}, fmtTime(s.last_success_at)), h('td', { class: 'num' }, String(s.consecutive_failures)),
          h('td', { class: 'err' }, s.last_error || ''), h('td', {}, fmtTime(s.next_poll_at))))))) :
        h('p', { class: 'hint warn' }, '情報源が設定されていません。河川水位・気象庁の情報による自動通知は行われません'
          + '（PUSHSVC_FEEDS_FILE に情報源を記載してください。例：deploy/feeds.example.toml）。')),
    h('section', { class: 'card', 'aria-labelledby': 'f-riv' }, h('h3', { id: 'f-riv' }, '河川の水位'),
      stations.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'list rivers' },
        h('thead', {}, h('tr', {}, ['観測所', '河川', '市町村', '水位', '段階', '基準値に対する水位', '観測時刻'].map((t) => h('th', {}, t)))),
        h('tbody', {}, stations.map((s) => h('tr', { 'data-station': s.code, class: `stage-${s.stage}` },
          h('td', {}, s.name), h('td', {}, s.river || ''), h('td', {}, geo.names[s.municipality_code] || s.municipality_code),
          h('td', { class: 'num' }, s.level === null ? '—' : `${s.level.toFixed(2)} m`),
          h('td', {}, h('span', { class: `stage ${s.stage}` }, STAGE_JA[s.stage] || s.stage)),
          h('td', {}, gauge(s)), h('td', {}, fmtTime(s.observed_at))))))) :
        h('p', { class: 'hint' }, '観測所が登録されていません。'),
      h('p', { class: 'credit' }, rivers.attribution)),
  );
  timer = setTimeout(() => { if (location.hash.startsWith('#/feeds')) renderFeeds(root).catch(() => {}); }, 30000);
}
