// One message: live delivery progress, approval, and one-click cancel / correct. Also the history list.
import { api, CATEGORY_JA, DELIVERY_JA, SEVERITY_JA, STATUS_JA } from './api.js';
import { confirmDialog, fill, fmtInt, fmtSeconds, fmtTime, h, toast } from './dom.js';
import { loadGeo } from './map.js';
import { session } from './session.js';

const FINAL = new Set(['done', 'cancelled', 'expired']);
let pollTimer = null;

export function stopPolling() { clearTimeout(pollTimer); pollTimer = null; }

const secs = (a, b) => (a && b ? (new Date(b) - new Date(a)) / 1000 : null);

function startOf(m) { return m.timing.approved || m.timing.scheduled || m.timing.accepted; }

function modeTag(m) {
  return m.test ? h('span', { class: 'tag test' }, '訓練') : h('span', { class: 'tag live' }, '本番');
}

function progress(m) {
  const d = m.delivery;
  if (!d) return h('p', { class: 'hint' }, m.status === 'awaiting_approval' ? '承認されるまで配信されません。' : '配信はありません。');
  const total = Math.max(d.targeted, 1);
  const parts = [['sent', '送信済み', d.sent], ['gone', '解除済み（410/404）', d.gone], ['failed', '失敗', d.failed],
    ['retrying', '再送待ち', d.retrying], ['expired', '期限切れ', d.expired]];
  const done = d.sent + d.gone + d.failed + d.expired;
  const bar = h('div', { class: 'bar', role: 'progressbar', 'aria-label': '配信の進み具合', 'aria-valuemin': '0',
    'aria-valuemax': String(d.targeted), 'aria-valuenow': String(done) });
  for (const [k, , n] of parts) {
    if (!n) continue;
    const seg = h('span', { class: `seg ${k}` });
    seg.style.width = `${(100 * n) / total}%`;
    bar.append(seg);
  }
  const start = startOf(m);
  return h('div', { class: 'progress' },
    h('p', { class: 'big' }, h('output', { id: 'sent-count' }, fmtInt(d.sent)), ` / ${fmtInt(d.targeted)} 件送信`,
      h('span', { class: `dstatus ${d.status}`, id: 'delivery-status' }, DELIVERY_JA[d.status] || d.status)),
    bar,
    h('dl', { class: 'counters' }, parts.map(([k, label, n]) => h('div', { class: k }, h('dt', {}, label),
      h('dd', { 'data-counter': k }, fmtInt(n))))),
    h('dl', { class: 'timing' },
      h('div', {}, h('dt', {}, '50% まで'), h('dd', { id: 't50' }, fmtSeconds(secs(start, m.timing.half_sent)))),
      h('div', {}, h('dt', {}, '100% まで'), h('dd', { id: 't100' }, fmtSeconds(secs(start, m.timing.finished || (d.status === 'done' ? m.timing.last_sent : null))))),
      h('div', {}, h('dt', {}, '最初の送信'), h('dd', {}, fmtTime(m.timing.first_sent)))));
}

async function act(m, what, body) {
  try {
    await api(`/api/v1/messages/${m.id}/${what}`, { method: 'POST', body });
    toast({ approve: '承認しました。配信を始めます', cancel: '取り消しました', correct: '訂正を送りました' }[what]);
  } catch (e) {
    toast(e.message, 'error');
  }
  refresh();
}

function correctForm(m) {
  const title = h('input', { id: 'c-title', type: 'text', value: m.title.ja.replace(/^【訓練】/, ''), maxlength: 200 });
  const body = h('textarea', { id: 'c-body', rows: 3 }, m.body.ja.replace(/^【訓練】/, ''));
  const reason = h('input', { id: 'c-reason', type: 'text', maxlength: 500 });
  return h('details', { class: 'correct' }, h('summary', {}, '訂正する…'),
    h('form', { onsubmit: (e) => {
      e.preventDefault();
      act(m, 'correct', { title: title.value, body: body.value, reason: reason.value });
    } },
    h('label', { for: 'c-title' }, '訂正後のタイトル'), title, h('label', { for: 'c-body' }, '訂正後の本文'), body,
    h('label', { for: 'c-reason' }, '理由（任意）'), reason,
    h('p', { class: 'hint' }, '受け取った人にだけ【訂正】として届き、まだ届いていない分は止まります。'),
    h('button', { type: 'submit', class: 'primary' }, '訂正を送信')));
}

let current = null;

async function refresh() {
  if (!current) return;
  stopPolling();
  const { id, root } = current;
  let m;
  try {
    m = await api(`/api/v1/messages/${id}`);
  } catch (e) {
    fill(root, h('h2', { id: 'message-h' }, `メッセージ ${id}`), h('p', { class: 'error' }, e.message));
    return;
  }
  if (!current || current.id !== id) return;
  const geo = await loadGeo();
  const me = session.operator;
  const open = ['awaiting_approval', 'scheduled', 'sent'].includes(m.status) && m.kind !== 'cancellation';
  const canApprove = m.status === 'awaiting_approval' && m.author !== me.name;
  root.dataset.test = String(m.test);
  fill(root,
    h('div', { class: 'screen-head' }, h('h2', { id: 'message-h' }, modeTag(m), ` #${m.id} ${m.title.ja}`),
      h('span', { class: `status ${m.status}`, id: 'message-status' }, STATUS_JA[m.status] || m.status)),
    m.test ? h('p', { class: 'test-note' }, '訓練メッセージ：訓練用端末にだけ届きます') : null,
    m.note ? h('p', { class: 'note' }, m.note) : null,
    m.status === 'awaiting_approval' ? h('div', { class: 'approval warn-box', role: 'region', 'aria-label': '承認' },
      h('p', {}, `承認待ち：${m.prefecture_wide ? '県内全域' : ''}${m.severity === 'emergency' ? '緊急' : ''}のため、作成者（${m.author}）以外の運用者の承認が必要です。`),
      h('p', {}, `承認期限：${fmtTime(m.approval_deadline)}　想定受信者：${fmtInt(m.recipients)} 人`),
      canApprove ? h('button', { type: 'button', class: 'danger-fill', onclick: async () => {
        if (await confirmDialog({ title: '承認の確認', ok: `承認して ${fmtInt(m.recipients)} 人に送信`,
          body: [h('p', {}, m.title.ja), h('p', {}, m.municipalities.map((c) => geo.names[c]).join('、'))] })) act(m, 'approve');
      } }, '承認する') : h('p', { class: 'hint' }, '自分が作成したメッセージは承認できません。')) : null,
    h('div', { class: 'message-grid' },
      h('div', { class: 'card' }, h('h3', {}, '配信状況'), progress(m),
        open ? h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'danger', id: 'cancel', onclick: () => act(m, 'cancel', {}) }, '取り消す（受信者に取消を通知）'),
          m.status === 'sent' ? correctForm(m) : null) : null),
      h('div', { class: 'card' }, h('h3', {}, '内容'),
        h('dl', { class: 'facts' },
          h('dt', {}, '種別・重要度'), h('dd', {}, `${CATEGORY_JA[m.category] || m.category}・${SEVERITY_JA[m.severity] || m.severity}`),
          h('dt', {}, '対象'), h('dd', {}, m.municipalities.map((c) => geo.names[c] || c).join('、') || '—'),
          h('dt', {}, '作成'), h('dd', {}, `${m.author}（${fmtTime(m.timing.accepted)}）`),
          m.approver ? [h('dt', {}, '承認'), h('dd', {}, `${m.approver}（${fmtTime(m.timing.approved)}）`)] : null,
          m.reference_id ? [h('dt', {}, '元のメッセージ'), h('dd', {}, h('a', { href: `#/messages/${m.reference_id}` }, `#${m.reference_id}`))] : null,
          m.follow_ups.length ? [h('dt', {}, '取消・訂正'), h('dd', {}, m.follow_ups.map((f) => h('a', { href: `#/messages/${f}`, class: 'follow-up' }, `#${f} `)))] : null),
        h('div', { class: 'notif static' }, h('strong', { class: 'n-title' }, m.title.ja), h('p', { class: 'n-body' }, m.body.ja)),
        Object.keys(m.title).length > 1 ? h('p', { class: 'hint' }, `翻訳：${Object.keys(m.title).filter((l) => l !== 'ja').join('、')}`) : null)),
  );
  const live = m.status === 'awaiting_approval' || m.status === 'scheduled' || (m.delivery && !FINAL.has(m.delivery.status));
  if (live) pollTimer = setTimeout(refresh, 1000);
}

export function renderMessage(root, id) {
  current = { id, root };
  fill(root, h('h2', { id: 'message-h' }, `メッセージ #${id}`), h('p', { class: 'hint' }, '読み込み中…'));
  return refresh();
}

export async function renderMessages(root) {
  current = null;
  const geo = await loadGeo();
  const rows = await api('/api/v1/messages?limit=100');
  fill(root,
    h('div', { class: 'screen-head' }, h('h2', { id: 'messages-h' }, '送信履歴')),
    rows.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'list' },
      h('thead', {}, h('tr', {}, ['#', '', '状態', 'タイトル', '対象', '送信/対象', '作成'].map((t) => h('th', {}, t)))),
      h('tbody', {}, rows.map((m) => h('tr', { class: m.test ? 'is-test' : '' },
        h('td', {}, h('a', { href: `#/messages/${m.id}` }, `#${m.id}`)), h('td', {}, modeTag(m)),
        h('td', {}, h('span', { class: `status ${m.status}` }, STATUS_JA[m.status] || m.status)),
        h('td', {}, h('a', { href: `#/messages/${m.id}` }, m.title.ja)),
        h('td', {}, m.municipalities.length > 3 ? `${geo.names[m.municipalities[0]]} ほか${m.municipalities.length - 1}` : m.municipalities.map((c) => geo.names[c]).join('、')),
        h('td', { class: 'num' }, m.delivery ? `${fmtInt(m.delivery.sent)} / ${fmtInt(m.delivery.targeted)}` : fmtInt(m.recipients)),
        h('td', {}, fmtTime(m.timing.accepted))))))) : h('p', { class: 'hint' }, 'まだ送信していません。'),
  );
}
