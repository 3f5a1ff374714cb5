/* The resident page, which is also the resident's portal: subscribe by place, then see for each place what is
   in force, the river gauges, the nearest evacuation sites, notices and recent alerts; change or unsubscribe.
   id + token are kept in localStorage (and IndexedDB for the service worker, see pushsync.js).
   Text comes from the server's one message catalogue (/api/v1/i18n/<lang>), in the browser's language.
   Plain JavaScript, no framework, nothing loaded from another origin. */
"use strict";

const API = "/api/v1";
const STORE = "pushsvc.subscription";
const PORTAL_STORE = "pushsvc.portal";
const HISTORY_STORE = "pushsvc.levels";
const LANGS = ["ja", "en", "zh-Hans", "zh-Hant", "ko", "vi", "tl", "ne", "id", "pt"];
const MAX_PLACES_DEFAULT = 5;
// Every step of signing up ends, one way or another, within these (ms); the resident is told what to do.
const TIMEOUT = { server: 15000, permission: 120000, worker: 15000, push: 20000, ...(window.PUSHSVC_TIMEOUTS || {}) };
const POLL_MS = window.PUSHSVC_POLL_MS || 30000; // tests shorten both
const HISTORY_HOURS = 6;

let lang = "ja";
let M = {}; // msgid -> text in `lang`
let choices = { municipalities: [], categories: [], max_places: MAX_PLACES_DEFAULT };
let current = null; // the subscription as the server returned it
let portal = null; // { etag, data, at }
let pollTimer = null;

const $ = (id) => document.getElementById(id);

/* A catalogue message: page texts are "page.<key>", shared ones (levels, categories) their own msgid. */
function t(key, params = {}) {
  const raw = M[`page.${key}`] ?? M[key] ?? key;
  return raw.replace(/\{(\w+)\}/g, (_, name) => (params[name] ?? ""));
}

/* The browser's preferred language among ours: zh-TW/HK → 繁體, other zh → 简体, fil → tl, else the primary tag. */
function browserLanguage() {
  for (const raw of navigator.languages || [navigator.language || "ja"]) {
    const tag = raw.toLowerCase();
    if (tag.startsWith("zh")) return /hant|tw|hk|mo/.test(tag) ? "zh-Hant" : "zh-Hans";
    if (tag.startsWith("fil")) return "tl";
    if (tag === "in" || tag.startsWith("in-")) return "id";
    const found = LANGS.find((l) => l === tag.split("-")[0]);
    if (found) return found;
  }
  return "ja";
}

class StepError extends Error {
  constructor(code, detail = "") { super(detail || code); this.code = code; this.detail = detail; }
}

function withTimeout(promise, ms, code) {
  let timer;
  const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new StepError(code)), ms); });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function explain(e) {
  if (e instanceof StepError) {
    return ["denied", "push_unreachable", "server_unreachable", "outside", "no_push", "no_location", "no_place"]
      .includes(e.code) ? t(e.code) : t("failed", { detail: e.detail || e.code });
  }
  return t("failed", { detail: e.message });
}

function say(text) { $("status").textContent = text; if (text) $("error").textContent = ""; }
function fail(e) { $("status").textContent = ""; $("error").textContent = explain(e); }

async function api(method, path, body, token, extra = {}) {
  const headers = { Accept: "application/json", ...(extra.headers || {}) };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT.server);
  let r;
  try {
    r = await fetch(API + path, {
      method, headers, signal: ctl.signal, cache: extra.cache || "default",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new StepError("server_unreachable");
  } finally {
    clearTimeout(timer);
  }
  if (r.status === 204 || r.status === 304) return { status: r.status, data: null, etag: r.headers.get("ETag") };
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    if (r.status >= 500 || r.status === 0) throw new StepError("server_unreachable");
    if (String(data.type || "").endsWith("outside-service-area")) throw new StepError("outside");
    const err = new StepError("failed", data.field ? `${data.field}: ${data.detail}` : data.detail || r.statusText);
    err.status = r.status;
    throw err;
  }
  return extra.full ? { status: r.status, data, etag: r.headers.get("ETag") } : data;
}

/* --- language ------------------------------------------------------------------------------------ */

/* The page's text in `wanted`, kept in localStorage too so that the page still reads right offline. */
async function loadLanguage(wanted) {
  const key = `pushsvc.messages.${wanted}`;
  try {
    const got = await api("GET", `/i18n/${encodeURIComponent(wanted)}`);
    localStorage.setItem(key, JSON.stringify(got.messages));
    M = got.messages;
    lang = got.lang;
  } catch (e) {
    const kept = JSON.parse(localStorage.getItem(key) || "null");
    if (kept) { M = kept; lang = wanted; } // else the page stays in the Japanese it was served in
  }
}

function applyLanguage() {
  if (!Object.keys(M).length) return;
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-alt]")) el.alt = t(el.dataset.i18nAlt);
  $("lang-select").value = lang;
  renderCategories();
  for (const row of document.querySelectorAll(".place")) translatePlace(row);
  if (current) renderSettings(current);
  if (portal) renderPortal(portal.data, portal.offline);
}

async function changeLanguage() {
  const wanted = $("lang-select").value;
  localStorage.setItem("pushsvc.lang", wanted);
  await loadLanguage(wanted);
  applyLanguage();
  if (current && current.lang !== lang) { // notifications follow the page's language
    const saved = JSON.parse(localStorage.getItem(STORE));
    try {
      current = await api("PATCH", `/subscriptions/${saved.id}`, { lang }, saved.token);
      await refreshPortal(true);
    } catch (e) { fail(e); }
  }
}

/* --- where the page runs ------------------------------------------------------------------------- */

function isIOS() {
  const ua = navigator.userAgent;
  return /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
}

function isStandalone() {
  return navigator.standalone === true || window.matchMedia("(display-mode: standalone)").matches;
}

/* iOS/iPadOS delivers Web Push only to a page added to the Home Screen (iOS 16.4+): in a Safari tab, show how. */
function needsHomeScreen() { return isIOS() && !isStandalone(); }

function position() {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) { reject(new StepError("no_location")); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.min(p.coords.accuracy, 100000) }),
      () => reject(new StepError("no_location")),
      { enableHighAccuracy: false, timeout: 15000, maximumAge: 600000 },
    );
  });
}

/* --- the form ----------------------------------------------------------------------------------- */

let placeSeq = 0;

function addPlace(place = {}) {
  const list = $("place-list");
  if (list.children.length >= choices.max_places) return;
  const n = ++placeSeq;
  const row = document.createElement("div");
  row.className = "place";
  row.innerHTML = `
    <label for="place-label-${n}" data-k="place_label"></label>
    <input type="text" id="place-label-${n}" class="place-label" maxlength="40" autocomplete="off">
    <label for="place-muni-${n}" data-k="municipality"></label>
    <select id="place-muni-${n}" class="place-muni"></select>
    <button type="button" class="place-here" data-k="use_here"></button>
    <button type="button" class="place-remove" data-k="remove_place"></button>
    <p class="hint place-coords" aria-live="polite"></p>`;
  const select = row.querySelector(".place-muni");
  select.append(new Option("", ""));
  for (const m of choices.municipalities) select.append(new Option(`${m.district || ""}${m.name}`, m.code));
  row.querySelector(".place-label").value = place.label || "";
  select.value = place.municipality_code || "";
  if (place.lat != null) { row.dataset.lat = place.lat; row.dataset.lon = place.lon; }
  select.addEventListener("change", () => { delete row.dataset.lat; delete row.dataset.lon; translatePlace(row); });
  row.querySelector(".place-remove").addEventListener("click", () => {
    row.remove(); updateAddButton(); $("add-place").focus();
  });
  row.querySelector(".place-here").addEventListener("click", async () => {
    try {
      say(t("locating"));
      const p = await position();
      const found = await api("GET", `/geo/locate?lat=${p.lat}&lon=${p.lon}`);
      row.dataset.lat = p.lat; row.dataset.lon = p.lon;
      select.value = found.code;
      if (!row.querySelector(".place-label").value) row.querySelector(".place-label").value = t("current_legend");
      say("");
      translatePlace(row);
    } catch (e) { fail(e); }
  });
  list.append(row);
  translatePlace(row);
  updateAddButton();
  return row;
}

function translatePlace(row) {
  for (const el of row.querySelectorAll("[data-k]")) el.textContent = t(el.dataset.k);
  row.querySelector(".place-muni").options[0].textContent = t("choose");
  row.querySelector(".place-coords").textContent = row.dataset.lat ? `${t("current_legend")} ✓` : "";
}

function updateAddButton() {
  $("add-place").hidden = $("place-list").children.length >= choices.max_places;
}

function renderCategories(selected) {
  const box = $("categories");
  const chosen = selected || [...box.querySelectorAll("input:checked")].map((i) => i.value);
  const all = !box.querySelector("input");
  for (const el of box.querySelectorAll("div")) el.remove();
  for (const c of choices.categories) {
    const div = document.createElement("div");
    div.innerHTML = `<input type="checkbox" id="cat-${c}" value="${c}"><label for="cat-${c}"></label>`;
    div.querySelector("label").textContent = t(`category.${c}`);
    div.querySelector("input").checked = selected ? selected.includes(c) : all || chosen.includes(c);
    box.append(div);
  }
}

function formBody() {
  const places = [];
  for (const row of document.querySelectorAll(".place")) {
    const label = row.querySelector(".place-label").value.trim() || `${t("default_label")} ${places.length + 1}`;
    if (row.dataset.lat) places.push({ label, lat: Number(row.dataset.lat), lon: Number(row.dataset.lon) });
    else if (row.querySelector(".place-muni").value) places.push({ label, municipality_code: row.querySelector(".place-muni").value });
  }
  return {
    places,
    follow_current_location: $("follow-current").checked,
    categories: [...document.querySelectorAll("#categories input:checked")].map((i) => i.value),
    lang,
    quiet_hours: $("quiet-on").checked ? { start: $("quiet-start").value, end: $("quiet-end").value } : null,
    min_intensity: $("min-intensity").value,
  };
}

/* Permission, service worker, push subscription: each step with its own timeout and its own message. */
async function pushSubscription(vapidKey) {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    throw new StepError("no_push");
  }
  const permission = await withTimeout(Notification.requestPermission(), TIMEOUT.permission, "denied");
  if (permission !== "granted") throw new StepError("denied");
  const reg = await withTimeout((async () => {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    return navigator.serviceWorker.ready;
  })(), TIMEOUT.worker, "server_unreachable");
  try {
    const existing = await reg.pushManager.getSubscription();
    if (existing) return existing;
    return await withTimeout(reg.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: urlBase64ToUint8Array(vapidKey),
    }), TIMEOUT.push, "push_unreachable");
  } catch (e) {
    if (e instanceof StepError) throw e;
    throw new StepError(e && e.name === "NotAllowedError" ? "denied" : "push_unreachable");
  }
}

async function submit(event) {
  event.preventDefault();
  const body = formBody();
  if (!body.places.length && !body.follow_current_location) { fail(new StepError("no_place")); return; }
  const button = $("subscribe");
  button.disabled = true;
  try {
    say(t("working"));
    let location = null;
    if (body.follow_current_location) location = await position().catch(() => null);
    const saved = JSON.parse(localStorage.getItem(STORE) || "null");
    if (current && saved) {
      current = await api("PATCH", `/subscriptions/${saved.id}`, body, saved.token);
      if (location) current.current_location = await api("PUT", `/subscriptions/${saved.id}/location`, location, saved.token);
      say(t("saved"));
    } else {
      const { public_key: vapidKey } = await api("GET", "/push/vapid-public-key");
      const sub = await pushSubscription(vapidKey);
      const { endpoint, keys } = sub.toJSON();
      current = await api("POST", "/subscriptions", { endpoint, keys, ...body, current_location: location });
      localStorage.setItem(STORE, JSON.stringify({ id: current.id, token: current.token }));
      await keepForServiceWorker({ id: current.id, token: current.token });
      say(t("done"));
    }
    await showSubscribed(true);
  } catch (e) {
    fail(e);
  } finally {
    button.disabled = false;
  }
}

/* --- the settings view -------------------------------------------------------------------------- */

function renderSettings(sub) {
  const list = $("registered-places");
  list.replaceChildren(...sub.places.map((p) => {
    const li = document.createElement("li");
    li.textContent = `${p.label}：${p.municipality_name}`;
    return li;
  }));
  if (!sub.places.length) list.replaceChildren(Object.assign(document.createElement("li"), { textContent: t("none") }));
  const c = sub.current_location;
  $("current-municipality").textContent = c ? c.municipality_name : t("none");
  $("current-municipality").dataset.code = c ? c.municipality_code : "";
  const sep = ["ja", "zh-Hans", "zh-Hant"].includes(lang) ? "、" : ", ";
  $("registered-categories").textContent = sub.categories.map((k) => t(`category.${k}`)).join(sep);
}

/* Moving between views moves the keyboard and screen-reader focus to the new view's heading. */
function focusHeading(id) { const h = $(id); if (h) h.focus({ preventScroll: false }); }

async function showSubscribed(moveFocus) {
  renderSettings(current);
  $("settings").hidden = false;
  $("subscribe-form").hidden = true;
  $("ios").hidden = true;
  $("about").hidden = true;
  $("portal").hidden = false;
  if (moveFocus) focusHeading("portal-h");
  await refreshPortal(true);
  schedulePoll();
}

function showForm(sub, moveFocus = false) {
  $("place-list").replaceChildren();
  for (const p of (sub && sub.places) || []) addPlace(p);
  if (!$("place-list").children.length) addPlace();
  $("follow-current").checked = Boolean(sub && sub.follow_current_location);
  renderCategories(sub ? sub.categories : choices.categories);
  $("min-intensity").value = (sub && sub.min_intensity) || "3";
  $("quiet-on").checked = Boolean(sub && sub.quiet_hours);
  if (sub && sub.quiet_hours) { $("quiet-start").value = sub.quiet_hours.start; $("quiet-end").value = sub.quiet_hours.end; }
  $("subscribe").dataset.i18n = sub ? "save" : "subscribe";
  $("subscribe").textContent = t($("subscribe").dataset.i18n);
  $("settings").hidden = true;
  $("about").hidden = Boolean(sub);
  const ios = !sub && needsHomeScreen();
  $("ios").hidden = !ios;
  $("subscribe-form").hidden = ios; // a button that cannot work on iOS outside the Home Screen is not offered
  $("portal").hidden = !sub;
  if (moveFocus) focusHeading(ios ? "ios-h" : "form-h");
}

/* Unsubscribing says first what will be deleted and waits for a yes. */
function askUnsubscribe() {
  const list = $("confirm-list");
  const names = current ? current.places.map((p) => `${p.label}（${p.municipality_name}）`).join("、") : "";
  list.replaceChildren(...[t("confirm_places", { places: names || t("none") }), t("confirm_current"), t("confirm_settings")]
    .map((text) => Object.assign(document.createElement("li"), { textContent: text })));
  $("confirm").showModal();
}

async function unsubscribe() {
  $("confirm").close();
  const saved = JSON.parse(localStorage.getItem(STORE) || "null");
  try {
    if (saved) await api("DELETE", `/subscriptions/${saved.id}`, undefined, saved.token).catch((e) => {
      if (e.status !== 404) throw e;
    });
    const reg = await navigator.serviceWorker?.getRegistration("/");
    const sub = reg && (await reg.pushManager.getSubscription());
    if (sub) await sub.unsubscribe();
    localStorage.removeItem(STORE);
    localStorage.removeItem(PORTAL_STORE);
    localStorage.removeItem(HISTORY_STORE);
    await forgetRegistration().catch(() => {});
    current = null;
    portal = null;
    clearTimeout(pollTimer);
    showForm(null, true);
    say(t("removed"));
  } catch (e) { fail(e); }
}

/* --- the portal ---------------------------------------------------------------------------------- */

const el = (tag, attrs = {}, ...children) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null) continue;
    if (k === "class") node.className = v; else if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  node.append(...children.filter((c) => c != null));
  return node;
};

const timeText = (iso) => new Date(iso).toLocaleString(lang, { month: "numeric", day: "numeric", hour: "2-digit", minute: "2-digit" });
/* An alert's page on this origin, with the resident's language shown under the Japanese. */
const localPath = (url) => {
  let path = "/";
  try { path = new URL(url, location.origin).pathname; } catch (e) { /* keep "/" */ }
  return lang === "ja" ? path : `${path}?lang=${encodeURIComponent(lang)}`;
};

function alertItem(a) {
  const level = a.level;
  const cls = level ? `level level-${level}` : `sev sev-${a.severity}`;
  // JMA and gauges give a level 相当 (equivalent); a municipality's 避難情報 gives the level itself.
  const equivalent = a.source === "jma" || a.source === "river";
  const badge = level ? t(equivalent ? "state.level" : "level.label", { level }) : t(`severity.${a.severity}`);
  const item = el("li", { class: `alert ${cls}`, "data-alert": a.id });
  const title = el("a", { href: localPath(a.url), class: "alert-title" });
  title.append(el("span", { class: "badge", text: badge }), " ", el("span", { text: a.title }));
  item.append(el("h4", {}, title));
  if (a.action) item.append(el("p", { class: "action", text: a.action }));
  if (a.body) item.append(el("p", { class: "body", text: a.body }));
  item.append(el("p", { class: "hint", text: timeText(a.created_at) }));
  return item;
}

function remember(station) {
  if (station.level == null || !station.observed_at) return;
  const all = JSON.parse(localStorage.getItem(HISTORY_STORE) || "{}");
  const points = (all[station.code] || []).filter((p) => Date.parse(p.t) > Date.now() - HISTORY_HOURS * 3600e3);
  if (!points.some((p) => p.t === station.observed_at)) points.push({ t: station.observed_at, v: station.level });
  all[station.code] = points.slice(-72);
  localStorage.setItem(HISTORY_STORE, JSON.stringify(all));
}

/* The last hours of a gauge: the server's readings (kept for 48 h) merged with what this page has seen,
   so offline the chart still draws from the last answer and this page's own readings. */
function chart(station) {
  const local = (JSON.parse(localStorage.getItem(HISTORY_STORE) || "{}")[station.code] || []);
  const byTime = new Map();
  for (const p of local.concat(station.history || [])) {
    const point = { t: Date.parse(p.t || p.observed_at), v: p.v ?? p.level };
    if (Number.isFinite(point.t) && Number.isFinite(point.v)) byTime.set(point.t, point);
  }
  const points = [...byTime.values()].sort((a, b) => a.t - b.t);
  const th = station.thresholds || {};
  const lines = ["evacuation", "danger", "flooding"].filter((k) => th[k] != null);
  const values = points.map((p) => p.v).concat(lines.map((k) => th[k]));
  if (!values.length) return null;
  const lo = Math.min(...values) - 0.2, hi = Math.max(...values) + 0.2;
  const W = 300, H = 90;
  const t0 = points.length ? points[0].t : 0, t1 = points.length ? points[points.length - 1].t : 1;
  const x = (tt) => (t1 === t0 ? W - 4 : 4 + ((tt - t0) / (t1 - t0)) * (W - 8));
  const y = (v) => H - 4 - ((v - lo) / (hi - lo)) * (H - 8);
  const NS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `${t("chart", { station: station.name })}: ${points.map((p) => p.v.toFixed(2)).join(", ")} m`);
  for (const k of lines) {
    const line = document.createElementNS(NS, "line");
    for (const [a, v] of [["x1", 0], ["x2", W], ["y1", y(th[k])], ["y2", y(th[k])]]) line.setAttribute(a, v);
    line.setAttribute("class", `th th-${k}`);
    svg.append(line);
  }
  if (points.length) {
    const path = document.createElementNS(NS, "polyline");
    path.setAttribute("points", points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(" "));
    path.setAttribute("class", "series");
    svg.append(path);
    const last = points[points.length - 1];
    const dot = document.createElementNS(NS, "circle");
    for (const [a, v] of [["cx", x(last.t)], ["cy", y(last.v)], ["r", 3.5]]) dot.setAttribute(a, v);
    dot.setAttribute("class", "series");
    svg.append(dot);
  }
  return svg;
}

function riverItem(s) {
  remember(s);
  const stage = s.stage && s.stage !== "normal" && s.stage !== "start" ? t(`stage.${s.stage}`) : t("stage.normal");
  const levelText = s.level != null ? t("water_level", { level: s.level.toFixed(2), time: timeText(s.observed_at) }) : "—";
  const th = s.thresholds || {};
  const limits = ["evacuation", "danger", "flooding"].filter((k) => th[k] != null)
    .map((k) => `${t(`stage.${k}`)} ${th[k].toFixed(2)} m`).join(" ／ ");
  return el("li", { class: `river stage-${s.stage || "normal"}`, "data-station": s.code },
    el("h4", { text: s.river ? `${s.name}（${s.river}）` : s.name }),
    el("p", {}, el("strong", { text: stage }), "　", levelText),
    limits ? el("p", { class: "hint", text: limits }) : null,
    chart(s));
}

function shelterItem(site) {
  const map = `https://maps.gsi.go.jp/#17/${site.lat}/${site.lon}/`;
  const km = (site.distance_m / 1000).toFixed(site.distance_m < 10000 ? 1 : 0);
  const state = site.open ? [el("span", { class: "badge open", text: t("open") }),
    site.capacity ? el("span", { class: `capacity capacity-${site.capacity}`, text: t(`capacity.${site.capacity}`) }) : null]
    : [el("span", { class: "closed", text: t("closed") })];
  return el("li", { class: `shelter${site.open ? " open" : ""}`, "data-site": site.id },
    el("strong", { text: site.name }), ...state,
    el("br"), el("span", { text: `${t("distance", { km })}・${site.address}` }), " ",
    el("a", { href: map, target: "_blank", rel: "noopener noreferrer", text: t("map") }));
}

function placeView(p, index) {
  const name = p.kind === "current" ? `${t("current_place")}：${p.municipality.name}` :
    `${p.label || t("default_label")}：${p.municipality.name}`;
  const id = `place-${index}`;
  const box = el("article", { class: "place-view", "aria-labelledby": id, "data-municipality": p.municipality.code });
  box.append(el("h3", { id, text: name }));
  box.append(el("h4", { class: "sub", text: t("in_force") }));
  box.append(p.alerts.length ? el("ul", { class: "alerts" }, ...p.alerts.map(alertItem)) : el("p", { class: "none", text: t("no_alerts") }));
  box.append(el("h4", { class: "sub", text: t("rivers") }));
  box.append(p.rivers.length ? el("ul", { class: "rivers" }, ...p.rivers.map(riverItem)) : el("p", { class: "none", text: t("no_rivers") }));
  if (p.shelters.length) {
    box.append(el("h4", { class: "sub", text: t("shelters") }));
    for (const g of p.shelters) {
      const sites = [...g.sites].sort((a, b) => Number(Boolean(b.open)) - Number(Boolean(a.open)) || a.distance_m - b.distance_m);
      box.append(el("p", { class: "group", text: t("shelters_for", { hazard: g.label }) }),
        el("ul", { class: "shelters" }, ...sites.map(shelterItem)));
    }
  }
  box.append(el("h4", { class: "sub", text: t("recent") }));
  box.append((p.recent || []).length ?
    el("ul", { class: "recent" }, ...p.recent.map((a) => el("li", {}, el("a", { href: localPath(a.url), text: a.title }), " ",
      el("span", { class: "hint", text: timeText(a.created_at) })))) :
    el("p", { class: "none", text: t("no_recent") }));
  return box;
}

function noticeItem(n) {
  const item = el("article", { class: `notice${n.important ? " important" : ""}`, "data-notice": n.id },
    el("h3", { text: (n.important ? `【${t("important")}】` : "") + n.title }),
    n.body ? el("p", { text: n.body }) : null);
  if (n.important) {
    const ack = el("button", { type: "button", class: "ack", text: t("ack") });
    ack.addEventListener("click", async () => {
      const saved = JSON.parse(localStorage.getItem(STORE));
      try {
        await api("POST", `/portal/notices/${n.id}/ack?subscription=${saved.id}`, undefined, saved.token);
        await refreshPortal(true);
        focusHeading("portal-h");
      } catch (e) { fail(e); }
    });
    item.append(ack);
  }
  return item;
}

function renderPortal(data, offline = false) {
  $("notices").replaceChildren(...data.notices.map(noticeItem));
  $("place-views").replaceChildren(...data.places.map(placeView));
  $("portal-credits").textContent = (data.attribution || []).join(" ／ ");
  const at = timeText(portal.at);
  $("portal-state").textContent = offline ? t("offline", { time: at }) : t("updated", { time: at });
  $("portal").classList.toggle("offline", offline);
  $("portal").dataset.etag = portal.etag || "";
}

/* Ask for the portal with the ETag we have: 304 costs nothing; offline, show the last state, marked so. */
async function refreshPortal(force = false) {
  const saved = JSON.parse(localStorage.getItem(STORE) || "null");
  if (!saved) return;
  if (!portal) portal = JSON.parse(localStorage.getItem(PORTAL_STORE) || "null");
  try {
    const headers = portal && portal.etag && !force ? { "If-None-Match": portal.etag } : {};
    const r = await api("GET", `/portal/me?subscription=${saved.id}`, undefined, saved.token,
      { headers, cache: "no-store", full: true });
    if (r.status === 304) {
      portal.at = new Date().toISOString();
    } else {
      portal = { etag: r.etag, data: r.data, at: new Date().toISOString() };
      localStorage.setItem(PORTAL_STORE, JSON.stringify(portal));
    }
    portal.offline = false;
    renderPortal(portal.data, false);
  } catch (e) {
    if (e.code !== "server_unreachable") throw e;
    if (portal) { portal.offline = true; renderPortal(portal.data, true); }
  }
}

function schedulePoll() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(async () => {
    if (current && document.visibilityState !== "hidden") await refreshPortal().catch(fail);
    if (current) schedulePoll();
  }, POLL_MS);
}

/* --- KPI and the service worker ------------------------------------------------------------------ */

/* KPI: the server counts page views and installs per day (and municipality, if registered); nothing sent
   here identifies the resident. Best effort: a lost count never bothers the resident. */
function report(kind, municipality = null) {
  fetch(API + "/kpi/events", {
    method: "POST", keepalive: true, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ kind, municipality }),
  }).catch(() => {});
}

function firstMunicipality() {
  return current && current.places[0] ? current.places[0].municipality_code : null;
}

async function refreshLocation(saved) {
  if (!current.follow_current_location) return;
  const p = await position().catch(() => null);
  if (!p) return;
  current.current_location = await api("PUT", `/subscriptions/${saved.id}/location`, p, saved.token);
  renderSettings(current);
  await refreshPortal(true);
}

function keepForServiceWorker(saved) {
  return saveRegistration(saved).catch(() => {});
}

/* A browser that renewed its push subscription without telling the service worker (Chromium never fires
   pushsubscriptionchange) is caught up when the page is opened. */
async function catchUpPushSubscription(saved) {
  const reg = await navigator.serviceWorker?.getRegistration("/");
  const sub = reg && (await reg.pushManager.getSubscription());
  if (sub && sub.endpoint !== current.endpoint) current = await sendPushSubscription(saved, sub);
}

async function start() {
  window.addEventListener("appinstalled", () => report("install", firstMunicipality()));
  $("lang-select").addEventListener("change", () => changeLanguage().catch(fail));
  $("add-place").addEventListener("click", () => { const row = addPlace(); row?.querySelector("input").focus(); });
  $("subscribe-form").addEventListener("submit", submit);
  $("unsubscribe").addEventListener("click", askUnsubscribe);
  $("confirm-yes").addEventListener("click", unsubscribe);
  $("confirm-no").addEventListener("click", () => { $("confirm").close(); $("unsubscribe").focus(); });
  $("edit").addEventListener("click", () => showForm(current, true));
  window.addEventListener("online", () => { if (current) refreshPortal().catch(fail); });
  document.addEventListener("visibilitychange", () => { if (current && document.visibilityState === "visible") refreshPortal().catch(fail); });
  navigator.serviceWorker?.addEventListener("message", (e) => { if (current && e.data && e.data.type === "push") refreshPortal().catch(fail); });
  await loadLanguage(localStorage.getItem("pushsvc.lang") || browserLanguage());
  applyLanguage();
  const saved = JSON.parse(localStorage.getItem(STORE) || "null");
  try {
    choices = await api("GET", "/subscriptions/choices");
    if (saved) current = await api("GET", `/subscriptions/${saved.id}`, undefined, saved.token);
  } catch (e) {
    if (e.status === 401 || e.status === 403 || e.status === 404) {
      localStorage.removeItem(STORE);
      localStorage.removeItem(PORTAL_STORE);
      await forgetRegistration().catch(() => {});
    } else if (saved && e.code === "server_unreachable") {
      current = null; // offline: the last state of the portal, marked as such
      $("portal").hidden = false; $("about").hidden = true; $("subscribe-form").hidden = true;
      await refreshPortal();
      window.addEventListener("online", () => location.reload(), { once: true }); // then start properly
      document.body.dataset.ready = "true";
      return;
    } else fail(e);
  }
  if (current) {
    await keepForServiceWorker(saved);
    await catchUpPushSubscription(saved).catch(fail);
    await showSubscribed(false);
  } else showForm(null);
  applyLanguage();
  document.body.dataset.ready = "true";
  report(current ? "page_view_portal" : "page_view_resident", firstMunicipality());
  if (current) refreshLocation(saved).catch(fail);
}

start().catch((e) => { fail(e); document.body.dataset.ready = "true"; });
