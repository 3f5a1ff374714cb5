// The console shell: token login, hash routes (#/compose, #/messages[/id], #/kpi, #/feeds) and the test/live mode.
import { api, token } from './api.js';
import { $, h, toast } from './dom.js';
import { onModeChange, renderCompose, resetCompose } from './compose.js';
import { renderEvacuation, stopEvacuation } from './evacuation.js';
import { renderFeeds, stopFeeds } from './feeds.js';
import { renderKpi } from './kpi.js';
import { renderMessage, renderMessages, stopPolling } from './message.js';
import { session } from './session.js';
import { renderTraining } from './training.js';

const SCREENS = ['login', 'compose', 'evacuation', 'messages', 'message', 'kpi', 'feeds', 'training'];

function showMode() {
  const test = session.test;
  document.body.dataset.mode = test ? 'test' : 'live';
  $('#mode-toggle').checked = test;
  const banner = $('#mode-banner');
  banner.hidden = !session.operator;
  banner.textContent = test ? '訓練モード — 送信は訓練用端末にだけ届きます（件名に【訓練】が付きます）'
    : '本番モード — 送信すると実際の住民に届きます';
  for (const el of document.querySelectorAll('.mode-label')) el.textContent = test ? '訓練' : '本番';
}

function show(name) {
  for (const s of SCREENS) $(`#${s}`).hidden = s !== name;
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.route === (name === 'message' ? 'messages' : name)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

async function route() {
  stopPolling();
  stopFeeds();
  stopEvacuation();
  if (!session.operator) {
    show('login');
    $('#token').focus();
    document.body.dataset.ready = 'true';
    document.body.dataset.screen = 'login';
    return;
  }
  const [, name = 'compose', id] = location.hash.split('/');
  const screen = id && name === 'messages' ? 'message' : SCREENS.includes(name) && name !== 'login' ? name : 'compose';
  show(screen);
  const root = $(`#${screen}`);
  try {
    if (screen === 'compose') await renderCompose(root);
    else if (screen === 'messages') await renderMessages(root);
    else if (screen === 'message') await renderMessage(root, Number(id));
    else if (screen === 'evacuation') await renderEvacuation(root);
    else if (screen === 'kpi') await renderKpi(root);
    else if (screen === 'feeds') await renderFeeds(root);
    else if (screen === 'training') await renderTraining(root);
  } catch (e) {
    root.replaceChildren(h('p', { class: 'error', role: 'alert' }, `表示できませんでした：${e.message}`));
  }
  showMode();
  document.body.dataset.ready = 'true';
  document.body.dataset.screen = screen;
}

async function login(t) {
  token.set(t);
  try {
    session.operator = await api('/api/v1/operators/me', { logout: false });
  } catch (e) {
    token.clear();
    session.operator = null;
    throw e;
  }
  const op = session.operator;
  const scope = op.role === 'prefecture' ? '県' : '市町村';
  $('#who-name').textContent = `${op.name}（${scope}）`;
  $('#nav').hidden = false;
  $('#who').hidden = false;
}

function logout(message) {
  token.clear();
  session.operator = null;
  resetCompose();
  $('#nav').hidden = true;
  $('#who').hidden = true;
  showMode();
  if (message) toast(message, 'error');
  location.hash = '';
  route();
}

$('#login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const t = $('#token').value.trim();
  $('#login-error').textContent = '';
  try {
    await login(t);
    $('#token').value = '';
    if (!location.hash || location.hash === '#') location.hash = '#/compose';
    else route();
  } catch (err) {
    $('#login-error').textContent = err.status === 401 ? 'トークンが正しくないか、無効になっています。' : `ログインできません：${err.message}`;
  }
});
$('#logout').addEventListener('click', () => logout());
$('#mode-toggle').addEventListener('change', (e) => session.setTest(e.target.checked));
session.onMode(() => { showMode(); onModeChange(); });
window.addEventListener('console:unauthorized', () => logout('ログインの有効期限が切れたか、トークンが取り消されました。'));
window.addEventListener('hashchange', route);

(async () => {
  const saved = token.get();
  if (saved) {
    try { await login(saved); } catch { /* fall through to the login form */ }
  }
  showMode();
  await route();
})();
