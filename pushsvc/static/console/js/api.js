// Calls to our own API with the operator's Bearer token; problems (RFC 9457) become ApiError with Japanese text.
const KEY = 'pushsvc.console.token';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

export const token = {
  get: () => sessionStorage.getItem(KEY),
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

export async function api(path, { method = 'GET', body, auth = true, raw = false, signal, logout = true } = {}) {
  const headers = { Accept: 'application/json' };
  if (auth && token.get()) headers.Authorization = `Bearer ${token.get()}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) {
    let problem = {};
    try { problem = await r.json(); } catch { /* not JSON */ }
    if (r.status === 401 && auth && logout) window.dispatchEvent(new CustomEvent('console:unauthorized', { detail: problem }));
    throw new ApiError(r.status, problem);
  }
  if (raw) return r;
  return r.status === 204 ? null : r.json();
}

export const STATUS_JA = {
  awaiting_approval: '承認待ち', scheduled: '予約済み', sent: '送信済み', cancelled: '取消済み',
  corrected: '訂正済み', expired: '期限切れ（未送信）',
};
export const DELIVERY_JA = { queued: '待機中', sending: '配信中', done: '完了', cancelled: '停止', expired: '期限切れ' };
export const CATEGORY_JA = {
  evacuation: '避難', river: '河川', weather: '気象', landslide: '土砂災害', quake_tsunami: '地震・津波',
  area_info: '地域のお知らせ',
};
export const SEVERITY_JA = { info: '情報', advisory: '注意', warning: '警戒', emergency: '緊急' };
export const LANG_JA = {
  ja: '日本語', en: '英語', 'zh-Hans': '中国語（簡体）', 'zh-Hant': '中国語（繁体）', ko: '韓国語',
  vi: 'ベトナム語', tl: 'タガログ語', ne: 'ネパール語', id: 'インドネシア語', pt: 'ポルトガル語',
};
