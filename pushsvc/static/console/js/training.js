// Training devices (訓練用端末): issue a one-time enrolment link / QR code, list and remove devices.
// A phone becomes one only this way; the public subscription API cannot set it (docs/OPERATIONS.md).
import { api } from './api.js';
import { fill, fmtTime, h, toast } from './dom.js';

export async function renderTraining(root) {
  const devices = await api('/api/v1/training-devices');
  const issued = h('div', { id: 'enrol-link', 'aria-live': 'polite' });
  const label = h('input', { id: 'enrol-label', maxlength: 80, placeholder: '例：県防災課 訓練用1' });

  async function issue(e) {
    e.preventDefault();
    const out = await api('/api/v1/training-devices/enrolments', { method: 'POST', body: { label: label.value.trim() } });
    fill(issued,
      h('p', {}, '訓練用端末にするスマートフォンで、次の QR コードを読み取るかリンクを開いてください（1 回限り・',
        fmtTime(out.expires_at), ' まで有効）。先にその端末で通知を登録しておく必要があります。'),
      h('img', { class: 'qr', alt: '登録用 QR コード', width: 180, height: 180,
        src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(out.qr_svg)}` }),
      h('p', {}, h('code', { id: 'enrol-url' }, out.url)));
  }

  async function remove(d) {
    await api(`/api/v1/training-devices/${d.subscription_id}`, { method: 'DELETE', raw: true });
    toast('訓練用端末から外しました');
    await renderTraining(root);
  }

  fill(root,
    h('div', { class: 'screen-head' }, h('h2', { id: 'training-h' }, '訓練用端末')),
    h('section', { class: 'card', 'aria-labelledby': 't-new' }, h('h3', { id: 't-new' }, '登録リンクを発行'),
      h('form', { id: 'enrol-form', onsubmit: issue },
        h('label', { for: 'enrol-label' }, '端末の名前'), label,
        h('button', { type: 'submit', class: 'primary' }, '登録リンクを発行')),
      issued),
    h('section', { class: 'card', 'aria-labelledby': 't-list' }, h('h3', { id: 't-list' }, '登録済みの訓練用端末'),
      devices.length ? h('table', { class: 'list', id: 'training-devices' },
        h('thead', {}, h('tr', {}, ['名前', '言語', '登録日時', '発行者', ''].map((t) => h('th', {}, t)))),
        h('tbody', {}, devices.map((d) => h('tr', { 'data-subscription': d.subscription_id },
          h('td', {}, d.label || `#${d.subscription_id}`), h('td', {}, d.lang), h('td', {}, fmtTime(d.enrolled_at)),
          h('td', {}, d.enrolled_by || '—'),
          h('td', {}, h('button', { type: 'button', class: 'small', onclick: () => remove(d) }, '外す'))))))
        : h('p', { class: 'hint' }, 'まだありません。訓練モードで送ったメッセージは、ここに登録された端末にだけ届きます。')));
}
