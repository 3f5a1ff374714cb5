// KPI dashboard: subscribers against fiscal-year targets, a choropleth on the same map, access, delivery speed.
import { api, ApiError, CATEGORY_JA } from './api.js';
import { fill, fmtInt, fmtSeconds, h, toast } from './dom.js';
import { barList, columns, lineChart } from './charts.js';
import { loadGeo, MunicipalityMap } from './map.js';

function tile(label, value, sub = '') {
  return h('div', { class: 'tile' }, h('span', { class: 'tile-label' }, label), h('strong', {}, value),
    sub ? h('span', { class: 'tile-sub' }, sub) : null);
}

// Active subscribers per day: today's total, walked back through each day's new and deleted subscriptions.
function subscribersByDay(summary, rows) {
  const net = new Map();
  for (const r of rows) {
    const d = r.day;
    if (r.indicator_code === 'subscription_created') net.set(d, (net.get(d) || 0) + r.count);
    if (r.indicator_code === 'subscription_deleted') net.set(d, (net.get(d) || 0) - r.count);
  }
  const days = [];
  const start = new Date(summary.period.from + 'T00:00:00Z'), end = new Date(summary.period.to + 'T00:00:00Z');
  for (let t = start; t <= end; t = new Date(t.getTime() + 86400000)) days.push(t.toISOString().slice(0, 10));
  let level = summary.active_subscribers.total - [...net.values()].reduce((a, b) => a + b, 0);
  return days.map((d) => { level += net.get(d) || 0; return { x: d.slice(5).replace('-', '/'), y: Math.max(level, 0) }; });
}

async function download() {
  try {
    const r = await api('/api/v1/kpi/export.csv', { raw: true, logout: false });
    const name = (r.headers.get('Content-Disposition') || '').match(/filename="([^"]+)"/)?.[1] || 'pushsvc-kpi.csv';
    const url = URL.createObjectURL(await r.blob());
    const a = h('a', { href: url, download: name });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) {
    toast(`CSV を取得できませんでした：${e.message}`, 'error');
  }
}

export async function renderKpi(root) {
  const geo = await loadGeo();
  fill(root, h('div', { class: 'screen-head' }, h('h2', { id: 'kpi-h' }, 'KPI ダッシュボード')), h('p', { class: 'hint' }, '読み込み中…'));
  let summary, rows = [], messages = [];
  try {
    [summary, rows, messages] = await Promise.all([
      api('/api/v1/kpi/summary', { logout: false }),
      api('/api/v1/kpi/export.json', { logout: false }).then((r) => r.rows).catch(() => []),
      api('/api/v1/messages?limit=20').catch(() => []),
    ]);
  } catch (e) {
    const why = e instanceof ApiError && e.status === 401 ? 'この運用者トークンでは KPI を表示できません（KPI API の認証設定を確認してください）' : e.message;
    fill(root, h('div', { class: 'screen-head' }, h('h2', { id: 'kpi-h' }, 'KPI ダッシュボード')), h('p', { class: 'error', role: 'alert' }, why));
    return;
  }
  const fys = summary.fiscal_years;
  const current = fys[fys.length - 1];
  const map = new MunicipalityMap(geo, { label: '市町村別の登録者数' });
  map.setValues(Object.fromEntries(summary.active_subscribers.by_municipality.map((m) => [m.code, m.count])), { legendTitle: '登録者数' });
  map.showAllLabels();
  const ranked = [...summary.active_subscribers.by_municipality].sort((a, b) => b.count - a.count).slice(0, 8);
  const alerts = messages.filter((m) => m.delivery && m.timing.half_sent).slice(0, 10);
  const start = (m) => m.timing.approved || m.timing.scheduled || m.timing.accepted;
  const secs = (a, b) => (a && b ? (new Date(b) - new Date(a)) / 1000 : null);
  const pa = summary.portal_access;

  fill(root,
    h('div', { class: 'screen-head' }, h('h2', { id: 'kpi-h' }, 'KPI ダッシュボード'),
      h('span', { class: 'period' }, `${summary.period.from} 〜 ${summary.period.to}`),
      h('button', { type: 'button', id: 'csv', onclick: download }, 'CSV を出力')),
    h('div', { class: 'tiles' },
      tile('登録者（現在）', fmtInt(summary.active_subscribers.total),
        current?.target ? `${current.label} 目標 ${fmtInt(current.target)}（${Math.round((current.achieved ?? 0) * 100)}%）`
          : current ? `${current.label} 目標未設定（PUSHSVC_KPI_FY_TARGETS）` : ''),
      tile('アプリ追加', fmtInt(summary.installs)),
      tile('ポータル閲覧', fmtInt(pa.total), `日別ユニーク計 ${fmtInt(pa.unique_day_sum)}`),
      tile('通知の開封', fmtInt(summary.notifications_opened)),
      tile('連携システム', fmtInt(summary.connected_systems.count))),
    h('div', { class: 'kpi-grid' },
      h('section', { class: 'card wide', 'aria-labelledby': 'k-subs' }, h('h3', { id: 'k-subs' }, '登録者数の推移と年度目標'),
        lineChart({ points: subscribersByDay(summary, rows), label: '登録者数の推移', unit: '人', width: 1300,
          targets: current?.target ? [{ label: current.label, value: current.target }] : [] }),
        barList({ label: '年度別の利用者数と目標', rows: fys.map((f) => ({ label: `${f.label}（${f.fiscal_year}）`, value: f.users_at_end,
          target: f.target ?? undefined, text: `${fmtInt(f.users_at_end)}${f.target ? ` / ${fmtInt(f.target)}` : ''}` })) })),
      h('section', { class: 'card', 'aria-labelledby': 'k-map' }, h('h3', { id: 'k-map' }, '市町村別の登録者'), map.el,
        barList({ label: '登録者の多い市町村', rows: ranked.map((m) => ({ label: m.name, value: m.count })) })),
      h('section', { class: 'card', 'aria-labelledby': 'k-access' }, h('h3', { id: 'k-access' }, 'ポータルの閲覧（日別）'),
        columns({ label: 'ポータル閲覧数（日別）', values: pa.by_day.map((d) => ({ x: d.day.slice(5).replace('-', '/'), y: d.views })) })),
      h('section', { class: 'card', 'aria-labelledby': 'k-speed' }, h('h3', { id: 'k-speed' }, '配信速度'),
        alerts.length ? barList({ label: 'お知らせごとの全件送信までの時間', rows: alerts.map((m) => {
          const t100 = secs(start(m), m.timing.finished || m.timing.last_sent);
          return { label: `#${m.id} ${m.title.ja}`.slice(0, 24), value: t100 ?? 0, cls: m.test ? 'test' : '',
            text: `50% ${fmtSeconds(secs(start(m), m.timing.half_sent))} / 100% ${fmtSeconds(t100)}` };
        }) }) : h('p', { class: 'hint' }, '配信済みのお知らせはまだありません。'),
        h('table', { class: 'mini' }, h('thead', {}, h('tr', {}, ['種別', '件数', '送信', '成功率', '中央値', '95%'].map((t) => h('th', {}, t)))),
          h('tbody', {}, summary.delivery.map((d) => h('tr', {}, h('td', {}, CATEGORY_JA[d.category] || d.category),
            h('td', { class: 'num' }, fmtInt(d.notifications)), h('td', { class: 'num' }, fmtInt(d.sent)),
            h('td', { class: 'num' }, d.success_rate === null ? '—' : `${(d.success_rate * 100).toFixed(1)}%`),
            h('td', { class: 'num' }, fmtSeconds(d.median_s)), h('td', { class: 'num' }, fmtSeconds(d.p95_s)))))))),
  );
}
