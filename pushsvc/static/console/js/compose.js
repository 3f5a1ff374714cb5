// Compose: pick the area on the map (click, draw, preset), write from a template, see who it reaches, send.
import { api, ApiError, CATEGORY_JA, LANG_JA, SEVERITY_JA } from './api.js';
import { confirmDialog, fill, fmtInt, h, toast } from './dom.js';
import { loadGeo, MunicipalityMap } from './map.js';
import { session } from './session.js';

const TITLE_MAX = 200, BODY_MAX = 2000, TITLE_SHOWN = 40, BODY_SHOWN = 100;
const PLACEHOLDER = '○○';

export const TEMPLATES = {
  避難所開設: { category: 'evacuation', severity: 'warning', title: '避難所を開設しました',
    body: `${PLACEHOLDER}地区に避難所を開設しました。開設場所：${PLACEHOLDER}。食料・飲料水・常備薬など必要な物を持って、明るいうちに避難してください。` },
  断水: { category: 'area_info', severity: 'advisory', title: '断水のお知らせ',
    body: `${PLACEHOLDER}地区で断水しています。復旧見込み：${PLACEHOLDER}時ごろ。給水所：${PLACEHOLDER}。` },
  避難指示: { category: 'evacuation', severity: 'emergency', title: '【警戒レベル4】避難指示',
    body: `${PLACEHOLDER}地区に避難指示を発令しました。危険な場所から全員避難してください。避難先：${PLACEHOLDER}。外が危険なときは建物の上の階へ。` },
  訓練: { category: 'area_info', severity: 'info', title: '防災訓練のお知らせ', test: true,
    body: 'これは訓練です。実際の災害ではありません。通知が届いたことを確認してください。' },
};

const state = {
  codes: new Set(), area: null, preset: '', category: 'evacuation', severity: 'warning', ttl: 86400,
  title: '', body: '', lang: {}, scheduled: '', preview: null, previewError: null, previewSeq: 0,
};

let map, els, presets = [], timer;

function targetBody() {
  const t = { municipality_codes: [...state.codes].sort() };
  if (state.area) t.area = state.area;
  if (state.preset) t.preset = state.preset;
  return t;
}

const hasTarget = () => state.codes.size > 0 || state.area !== null || state.preset !== '';

export function messageBody({ forPreview = false } = {}) {
  const lang = {};
  for (const [code, t] of Object.entries(state.lang)) if (t.title.trim()) lang[code] = { title: t.title, body: t.body };
  const body = { title: state.title.trim() || (forPreview ? 'プレビュー' : ''), body: state.body, lang,
    category: state.category, severity: state.severity, target: targetBody(), ttl_seconds: state.ttl,
    test: session.test };
  if (state.scheduled && !forPreview) body.scheduled_at = `${state.scheduled}:00+09:00`;
  return body;
}

function schedulePreview() {
  clearTimeout(timer);
  timer = setTimeout(runPreview, 250);
}

async function runPreview() {
  const seq = ++state.previewSeq;
  if (!hasTarget()) {
    state.preview = null; state.previewError = null; renderPreview(); return;
  }
  els.preview.setAttribute('aria-busy', 'true');
  try {
    const p = await api('/api/v1/messages/preview', { method: 'POST', body: messageBody({ forPreview: true }) });
    if (seq !== state.previewSeq) return;
    state.preview = p; state.previewError = null;
  } catch (e) {
    if (seq !== state.previewSeq) return;
    state.preview = null; state.previewError = e instanceof ApiError ? e.message : String(e);
  }
  els.preview.removeAttribute('aria-busy');
  renderPreview();
}

function names(codes) { return codes.map((c) => map.geo.names[c] || c); }

function renderPreview() {
  const p = state.preview;
  map.setTouched(new Set(p ? p.municipalities : state.codes));
  const box = els.preview;
  box.replaceChildren();
  if (state.previewError) {
    box.append(h('p', { class: 'error', role: 'alert' }, `送信できません：${state.previewError}`));
  } else if (!p) {
    box.append(h('p', { class: 'hint' }, '地図で市町村を選ぶ・範囲を描く・登録済みの範囲を選ぶと、届く人数が表示されます。'));
  } else {
    const byMuni = Object.entries(p.by_municipality).sort((a, b) => b[1] - a[1]);
    const byLang = Object.entries(p.by_lang).sort((a, b) => b[1] - a[1]);
    box.append(
      h('p', { class: 'big' }, h('output', { id: 'recipients', 'data-count': String(p.recipients) }, fmtInt(p.recipients)),
        h('span', {}, session.test ? ' 台（訓練用端末・重複なし）' : ' 人（重複なし）')),
      h('div', { class: 'badges' },
        p.prefecture_wide ? h('span', { class: 'badge warn' }, '県内全域扱い') : null,
        p.needs_approval ? h('span', { class: 'badge warn', title: p.approval_reason || '' }, '要承認（別の運用者）') : null,
        p.reach_limited_to ? h('span', { class: 'badge muted', id: 'limited' }, '担当市町村の住民のみに届きます') : null,
        p.known_dead ? h('span', { class: 'badge muted', id: 'dead' }, `無効な登録 ${fmtInt(p.known_dead)} 件`) :
          h('span', { class: 'badge muted', id: 'dead' }, '無効な登録 0 件')),
      h('div', { class: 'cols' },
        h('table', { class: 'mini', 'aria-label': '市町村別' }, h('thead', {}, h('tr', {}, h('th', {}, '市町村'), h('th', {}, '人数'))),
          h('tbody', {}, byMuni.length ? byMuni.map(([c, n]) => h('tr', { 'data-code': c }, h('td', {}, map.geo.names[c] || c),
            h('td', { class: 'num' }, fmtInt(n)))) : h('tr', {}, h('td', { colspan: 2 }, '登録者なし')))),
        h('table', { class: 'mini', 'aria-label': '言語別' }, h('thead', {}, h('tr', {}, h('th', {}, '言語'), h('th', {}, '人数'))),
          h('tbody', {}, byLang.map(([l, n]) => h('tr', {}, h('td', {}, LANG_JA[l] || l), h('td', { class: 'num' }, fmtInt(n)))))),
      ),
      h('p', { class: 'hint' }, `対象：${names(p.municipalities).join('、')}`),
    );
  }
  renderTarget();
  renderSend();
}

function renderTarget() {
  const chips = [...state.codes].sort().map((c) => h('li', {}, map.geo.names[c],
    h('button', { type: 'button', class: 'chip-x', 'aria-label': `${map.geo.names[c]}を外す`, onclick: () => toggle(c) }, '×')));
  if (state.area) chips.push(h('li', { class: 'area-chip' }, '描いた範囲',
    h('button', { type: 'button', class: 'chip-x', 'aria-label': '描いた範囲を消す', onclick: () => setArea(null) }, '×')));
  if (state.preset) chips.push(h('li', { class: 'area-chip' }, `登録範囲：${state.preset}`,
    h('button', { type: 'button', class: 'chip-x', 'aria-label': '登録範囲を外す', onclick: () => { els.preset.value = ''; setPreset(''); } }, '×')));
  els.chips.replaceChildren(...(chips.length ? chips : [h('li', { class: 'hint' }, '未選択')]));
}

function toggle(code) {
  if (state.codes.has(code)) state.codes.delete(code); else state.codes.add(code);
  map.setSelected(state.codes);
  renderTarget();
  schedulePreview();
}

function setArea(geojson) {
  state.area = geojson;
  map.setArea(geojson);
  els.draw.textContent = '範囲を描く';
  els.draw.setAttribute('aria-pressed', 'false');
  els.drawHint.hidden = true;
  renderTarget();
  schedulePreview();
}

function setPreset(name) { state.preset = name; renderTarget(); schedulePreview(); }

function counter(value, max, shown) {
  const n = [...value].length;
  return { text: `${n} / ${max} 字`, cls: n > max ? 'over' : n > shown ? 'long' : '' };
}

function renderCounts() {
  for (const [key, max, shown] of [['title', TITLE_MAX, TITLE_SHOWN], ['body', BODY_MAX, BODY_SHOWN]]) {
    const c = counter(state[key], max, shown);
    const el = els[`${key}Count`];
    el.textContent = c.text + (c.cls === 'long' ? `（通知では先頭約${shown}字まで表示）` : '');
    el.className = `count ${c.cls}`;
  }
  renderPhone();
  renderSend();
}

function renderPhone() {
  const lang = els.phoneLang.value;
  const t = lang === 'ja' ? { title: state.title, body: state.body } : state.lang[lang] || { title: '', body: '' };
  const mark = lang === 'ja' ? '【訓練】' : '[TEST] ';
  const title = (session.test ? mark : '') + (t.title || '（タイトル）');
  const body = (session.test ? mark : '') + (t.body || '');
  els.phoneTitle.textContent = title;
  els.phoneBody.textContent = body;
  els.phone.dataset.severity = state.severity;
}

function renderLangOptions() {
  const used = Object.keys(state.lang);
  els.phoneLang.replaceChildren(h('option', { value: 'ja' }, '日本語'),
    ...used.map((l) => h('option', { value: l }, LANG_JA[l])));
  els.addLang.replaceChildren(h('option', { value: '' }, '言語を追加…'),
    ...Object.keys(LANG_JA).filter((l) => l !== 'ja' && !used.includes(l)).map((l) => h('option', { value: l }, LANG_JA[l])));
}

function addTranslation(code, value = { title: '', body: '' }) {
  state.lang[code] = value;
  const row = h('fieldset', { class: 'tr', 'data-lang': code }, h('legend', {}, LANG_JA[code]),
    h('label', {}, 'タイトル', h('input', { type: 'text', maxlength: TITLE_MAX, value: value.title, lang: code,
      oninput: (e) => { state.lang[code].title = e.target.value; renderPhone(); } })),
    h('label', {}, '本文', h('textarea', { rows: 2, maxlength: BODY_MAX, lang: code,
      oninput: (e) => { state.lang[code].body = e.target.value; renderPhone(); } }, value.body)),
    h('button', { type: 'button', class: 'small danger', onclick: () => { delete state.lang[code]; row.remove(); renderLangOptions(); renderPhone(); } },
      `${LANG_JA[code]}を削除`));
  els.translations.append(row);
  renderLangOptions();
}

function renderSend() {
  const problems = [];
  if (!hasTarget()) problems.push('送信先が未選択です');
  if (!state.title.trim()) problems.push('タイトルが空です');
  if ([...state.title].length > TITLE_MAX || [...state.body].length > BODY_MAX) problems.push('文字数が上限を超えています');
  if ((state.title + state.body).includes(PLACEHOLDER)) problems.push(`本文に未記入の「${PLACEHOLDER}」があります`);
  if (state.previewError) problems.push('送信先に問題があります');
  els.problems.replaceChildren(...problems.map((p) => h('li', {}, p)));
  els.send.disabled = problems.length > 0 || !state.preview;
  els.send.textContent = session.test ? '訓練として送信（訓練用端末のみ）' : '本番送信…';
  els.send.className = session.test ? 'send test' : 'send live';
}

function applyTemplate(name) {
  const t = TEMPLATES[name];
  Object.assign(state, { title: t.title, body: t.body, category: t.category, severity: t.severity });
  els.title.value = t.title; els.body.value = t.body;
  els.category.value = t.category; els.severity.value = t.severity;
  if (t.test && !session.test) session.setTest(true);
  renderCounts();
  schedulePreview();
  if (t.body.includes(PLACEHOLDER)) toast(`「${PLACEHOLDER}」を実際の内容に書き換えてください`);
  els.title.focus();
}

async function send() {
  const p = state.preview;
  if (!p) return;
  const body = messageBody();
  if (!session.test) {
    const area = names(p.municipalities).join('、');
    const ok = await confirmDialog({
      title: '本番送信の確認',
      ok: p.needs_approval ? `承認依頼を出す（${fmtInt(p.recipients)} 人）` : `${fmtInt(p.recipients)} 人に本番送信する`,
      body: [
        h('p', { class: 'live-label' }, '本番 — 実際の住民に届きます'),
        h('dl', { class: 'facts' },
          h('dt', {}, '受信者'), h('dd', { id: 'confirm-count' }, `${fmtInt(p.recipients)} 人`),
          h('dt', {}, '対象地域'), h('dd', { id: 'confirm-area' }, area),
          h('dt', {}, '種別・重要度'), h('dd', {}, `${CATEGORY_JA[state.category]}・${SEVERITY_JA[state.severity]}`),
          h('dt', {}, 'タイトル'), h('dd', {}, state.title)),
        p.needs_approval ? h('p', { class: 'warn-box' }, '緊急、または直近の送信と合わせて県内の過半に届くため、別の運用者が承認するまで送信されません。') : null,
        state.scheduled ? h('p', {}, `予約：${state.scheduled.replace('T', ' ')}`) : null,
      ],
    });
    if (!ok) return;
  }
  els.send.disabled = true;
  try {
    const r = await api('/api/v1/messages', { method: 'POST', body });
    toast(r.status === 'awaiting_approval' ? '承認待ちになりました' : `受け付けました（${fmtInt(r.recipients)} 件）`);
    location.hash = `#/messages/${r.id}`;
  } catch (e) {
    toast(`送信できませんでした：${e.message}`, 'error');
    renderSend();
  }
}

function field(label, control, extra = null) {
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, extra);
}

export async function renderCompose(root) {
  const geo = await loadGeo();
  const op = session.operator;
  const allowed = (code) => op.role === 'prefecture' || op.municipalities.includes(code);
  map = new MunicipalityMap(geo, { selectable: true, allowed, onToggle: toggle,
    onDenied: (code) => toast(`${geo.names[code]}は担当外のため選べません`, 'error'),
    onDrawn: (g) => setArea(g), label: '送信先の市町村（クリックで選択）' });
  try { presets = await api('/api/v1/area-presets'); } catch { presets = []; }

  els = {};
  els.title = h('input', { id: 'f-title', type: 'text', maxlength: TITLE_MAX + 50, required: true, autocomplete: 'off',
    oninput: (e) => { state.title = e.target.value; renderCounts(); } });
  els.body = h('textarea', { id: 'f-body', rows: 5, oninput: (e) => { state.body = e.target.value; renderCounts(); } });
  els.titleCount = h('span', { class: 'count', 'aria-live': 'polite' });
  els.bodyCount = h('span', { class: 'count', 'aria-live': 'polite' });
  els.category = h('select', { id: 'f-category', onchange: (e) => { state.category = e.target.value; schedulePreview(); } },
    Object.entries(CATEGORY_JA).map(([v, t]) => h('option', { value: v }, t)));
  els.severity = h('select', { id: 'f-severity', onchange: (e) => { state.severity = e.target.value; renderPhone(); schedulePreview(); } },
    Object.entries(SEVERITY_JA).map(([v, t]) => h('option', { value: v }, t)));
  els.ttl = h('select', { id: 'f-ttl', onchange: (e) => { state.ttl = Number(e.target.value); } },
    [[3600, '1時間'], [21600, '6時間'], [86400, '24時間'], [259200, '3日']].map(([v, t]) => h('option', { value: v }, t)));
  els.scheduled = h('input', { id: 'f-scheduled', type: 'datetime-local', onchange: (e) => { state.scheduled = e.target.value; } });
  els.preset = h('select', { id: 'f-preset', onchange: (e) => setPreset(e.target.value) },
    h('option', { value: '' }, presets.length ? '登録済みの範囲…' : '（登録済みの範囲はありません）'),
    presets.map((p) => {
      const ok = p.municipalities.every(allowed);
      return h('option', { value: p.name, disabled: !ok }, p.name + (ok ? '' : '（担当外を含む）'));
    }));
  els.draw = h('button', { type: 'button', 'aria-pressed': 'false', onclick: () => {
    if (map.drawing) { map.finishDraw(); return; }
    map.startDraw(); els.draw.textContent = '描画を完了'; els.draw.setAttribute('aria-pressed', 'true'); els.drawHint.hidden = false;
  } }, '範囲を描く');
  els.drawHint = h('p', { class: 'hint', hidden: true }, '地図上をクリックして頂点を置き、ダブルクリックまたは Enter で完了（Backspace：1点戻す、Esc：中止）。');
  els.chips = h('ul', { class: 'chips', 'aria-label': '選択中の送信先', 'aria-live': 'polite' });
  els.preview = h('div', { class: 'preview card', id: 'preview', 'aria-live': 'polite' });
  els.translations = h('div', { class: 'translations' });
  els.addLang = h('select', { 'aria-label': '翻訳する言語を追加', onchange: (e) => { if (e.target.value) addTranslation(e.target.value); } });
  els.phoneLang = h('select', { 'aria-label': 'プレビューの言語', onchange: renderPhone });
  els.phoneTitle = h('strong', { class: 'n-title' });
  els.phoneBody = h('p', { class: 'n-body' });
  els.phone = h('div', { class: 'phone', 'aria-label': 'スマートフォンでの表示' },
    h('div', { class: 'notch' }), h('div', { class: 'clock' }, '9:41'),
    h('div', { class: 'notif' }, h('div', { class: 'n-app' }, h('span', { class: 'n-icon' }), '高知県 防災', h('span', { class: 'n-when' }, '今')),
      els.phoneTitle, els.phoneBody));
  els.problems = h('ul', { class: 'problems', 'aria-live': 'polite' });
  els.send = h('button', { type: 'button', id: 'send', onclick: send });

  const scopeNote = op.role === 'prefecture' ? null
    : h('p', { class: 'hint' }, `担当：${op.municipalities.map((c) => geo.names[c]).join('、')}（他の市町村は選べません）`);

  fill(root,
    h('div', { class: 'screen-head' }, h('h2', { id: 'compose-h' }, 'お知らせを作成'), h('span', { class: 'mode-label' })),
    h('div', { class: 'compose-grid' },
      h('div', { class: 'col map-col' },
        h('div', { class: 'toolbar', role: 'toolbar', 'aria-label': '送信先の選び方' },
          els.draw, els.preset,
          op.role === 'prefecture' ? h('button', { type: 'button', onclick: () => { geo.features.forEach((f) => state.codes.add(f.code)); map.setSelected(state.codes); renderTarget(); schedulePreview(); } }, '県内全域') : null,
          h('button', { type: 'button', onclick: () => { state.codes.clear(); map.setSelected(state.codes); els.preset.value = ''; state.preset = ''; setArea(null); } }, 'すべて解除')),
        scopeNote, map.el, els.drawHint, els.chips),
      h('div', { class: 'col form-col' },
        h('div', { class: 'templates', role: 'group', 'aria-label': 'テンプレート' }, h('span', {}, 'テンプレート：'),
          Object.keys(TEMPLATES).map((n) => h('button', { type: 'button', class: 'small', onclick: () => applyTemplate(n) }, n))),
        h('div', { class: 'row' }, field('種別', els.category), field('重要度', els.severity), field('有効期間', els.ttl)),
        field('タイトル', els.title, els.titleCount),
        field('本文', els.body, els.bodyCount),
        h('details', { class: 'tr-wrap' }, h('summary', {}, '翻訳（外国語）'), els.translations, els.addLang),
        field('予約送信（空欄なら今すぐ）', els.scheduled)),
      h('div', { class: 'col phone-col' },
        h('div', { class: 'reach' }, h('h3', {}, '届く人数'), els.preview),
        h('div', { class: 'look' }, h('div', { class: 'phone-head' }, h('h3', {}, '通知の見え方'), els.phoneLang), els.phone,
          els.problems, els.send))),
  );
  for (const [code, t] of Object.entries(state.lang)) { delete state.lang[code]; addTranslation(code, t); }
  renderLangOptions();
  els.title.value = state.title; els.body.value = state.body;
  els.category.value = state.category; els.severity.value = state.severity; els.ttl.value = String(state.ttl);
  map.setSelected(state.codes); map.setArea(state.area);
  renderCounts();
  renderPreview();
  if (hasTarget()) schedulePreview();
}

export function resetCompose() {
  Object.assign(state, { codes: new Set(), area: null, preset: '', title: '', body: '', lang: {}, scheduled: '',
    preview: null, previewError: null });
}

// The mode switch changes who is reached (test devices only), so the count is fetched again.
export function onModeChange() { if (els && map) { renderPhone(); renderSend(); schedulePreview(); } }
