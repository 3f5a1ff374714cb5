/* The resident page: subscribe by place, keep id + token in localStorage (and in IndexedDB for the service
   worker, see pushsync.js), change or unsubscribe.
   Plain JavaScript, no framework, nothing loaded from the internet. */
"use strict";

const API = "/api/v1";
const STORE = "pushsvc.subscription";
const MAX_PLACES_DEFAULT = 5;

const T = {
  ja: {
    title: "高知県 防災プッシュ通知", skip: "本文へ移動", langHint: "表示言語を切り替えます",
    aboutTitle: "このサービスについて",
    about: "アプリを入れなくても、このページから避難情報・河川の水位・気象警報などを、あなたが登録した場所（自宅・職場・家族の住む所）や今いる市町村に合わせてお知らせします。",
    privacy: "名前・メールアドレス・電話番号は聞きません。位置は約100 mの精度に丸めて保存し、現在地は24時間で消えます。いつでも解除でき、解除すると全て削除されます。",
    formTitle: "通知を受け取る", placesLegend: "登録する場所（最大5か所）", addPlace: "場所を追加",
    currentLegend: "現在地", followCurrent: "今いる市町村の情報も受け取る（現在地を使う）",
    followHint: "ページを開くたびに現在地を更新します。24時間更新がなければ消えます。",
    categoriesLegend: "受け取る情報", optionsLegend: "その他の設定", langLabel: "通知の言語",
    quietOn: "夜間は警報・緊急情報以外を音を鳴らさずに届ける", quietStart: "開始", quietEnd: "終了",
    minIntensity: "地震情報を受け取る震度（緊急地震速報・津波は常に届きます）",
    subscribe: "通知を受け取る", settingsTitle: "登録内容", edit: "設定を変更",
    unsubscribe: "通知を解除してデータを削除", save: "変更を保存",
    placeLabel: "名前（例：自宅）", municipality: "市町村", choose: "選んでください",
    useHere: "この場所（現在地）", removePlace: "この場所を削除", here: "現在地",
    cat_evacuation: "避難情報", cat_river: "河川の水位", cat_weather: "気象警報・注意報",
    cat_landslide: "土砂災害", cat_quake_tsunami: "地震・津波", cat_area_info: "地域のお知らせ",
    noPush: "このブラウザはプッシュ通知に対応していません。iPhoneではホーム画面に追加してから開いてください。",
    denied: "通知が許可されませんでした。ブラウザの設定で通知を許可してください。",
    working: "登録しています…", done: "登録しました。防災情報をお届けします。",
    saved: "変更を保存しました。", removed: "通知を解除し、登録データを削除しました。",
    locating: "現在地を確認しています…", noLocation: "現在地を取得できませんでした。",
    noPlace: "場所を1つ以上登録するか、現在地を使ってください。", none: "なし", failed: "エラー：",
    defaultLabel: "場所",
  },
  en: {
    title: "Kochi Prefecture disaster alerts", skip: "Skip to content", langHint: "Switch the display language",
    aboutTitle: "About this service",
    about: "No app needed: this page sends you evacuation information, river levels, weather warnings and more for the places you register (home, work, family) and the municipality you are in now.",
    privacy: "We never ask for your name, e-mail or phone number. Locations are stored rounded to about 100 m and your current location is forgotten after 24 hours. Unsubscribing deletes everything.",
    formTitle: "Get alerts", placesLegend: "Places (up to 5)", addPlace: "Add a place",
    currentLegend: "Current location", followCurrent: "Also alert me for the municipality I am in (use my location)",
    followHint: "Updated each time you open this page; forgotten after 24 hours without an update.",
    categoriesLegend: "What to receive", optionsLegend: "Other settings", langLabel: "Language of alerts",
    quietOn: "At night, deliver everything at once, but only warnings and emergencies make a sound", quietStart: "From", quietEnd: "Until",
    minIntensity: "Earthquake reports from intensity (EEW and tsunami always arrive)",
    subscribe: "Get alerts", settingsTitle: "Your registration", edit: "Change settings",
    unsubscribe: "Unsubscribe and delete my data", save: "Save changes",
    placeLabel: "Name (e.g. Home)", municipality: "Municipality", choose: "Choose one",
    useHere: "This location (where I am)", removePlace: "Remove this place", here: "Current location",
    cat_evacuation: "Evacuation", cat_river: "River levels", cat_weather: "Weather warnings",
    cat_landslide: "Landslides", cat_quake_tsunami: "Earthquakes and tsunami", cat_area_info: "Local notices",
    noPush: "This browser cannot receive push notifications. On iPhone, add this page to the Home Screen first.",
    denied: "Notifications were not allowed. Please allow them in your browser settings.",
    working: "Subscribing…", done: "Subscribed. You will receive disaster alerts.",
    saved: "Changes saved.", removed: "Unsubscribed; your data has been deleted.",
    locating: "Finding your location…", noLocation: "Could not get your location.",
    noPlace: "Register at least one place, or use your current location.", none: "none", failed: "Error: ",
    defaultLabel: "Place",
  },
};

let lang = localStorage.getItem("pushsvc.lang") || "ja";
let choices = { municipalities: [], categories: [], max_places: MAX_PLACES_DEFAULT };
let current = null; // the subscription as the server returned it

const $ = (id) => document.getElementById(id);
const t = (key) => (T[lang] && T[lang][key]) || T.ja[key] || key;

function say(text, isError = false) {
  const box = $("status");
  box.textContent = text;
  box.classList.toggle("error", isError);
}

function applyLanguage() {
  document.documentElement.lang = lang;
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  const sw = $("lang-switch");
  sw.textContent = lang === "ja" ? "English" : "日本語";
  sw.lang = lang === "ja" ? "en" : "ja";
  renderCategories();
  for (const row of document.querySelectorAll(".place")) translatePlace(row);
  if (current) renderSettings(current);
  if (!current) $("lang-select").value = lang;
}

async function api(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const r = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 204) return null;
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(data.field ? `${data.field}: ${data.detail}` : data.detail || r.statusText);
    err.status = r.status;
    throw err;
  }
  return data;
}

function position() {
  return new Promise((resolve, reject) => {
    if (!("geolocation" in navigator)) { reject(new Error(t("noLocation"))); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.min(p.coords.accuracy, 100000) }),
      () => reject(new Error(t("noLocation"))),
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
    <label for="place-label-${n}" data-k="placeLabel"></label>
    <input type="text" id="place-label-${n}" class="place-label" maxlength="40" autocomplete="off">
    <label for="place-muni-${n}" data-k="municipality"></label>
    <select id="place-muni-${n}" class="place-muni"></select>
    <button type="button" class="place-here" data-k="useHere"></button>
    <button type="button" class="place-remove" data-k="removePlace"></button>
    <p class="hint place-coords" aria-live="polite"></p>`;
  const select = row.querySelector(".place-muni");
  select.append(new Option("", ""));
  for (const m of choices.municipalities) select.append(new Option(`${m.district || ""}${m.name}`, m.code));
  row.querySelector(".place-label").value = place.label || "";
  select.value = place.municipality_code || "";
  if (place.lat != null) { row.dataset.lat = place.lat; row.dataset.lon = place.lon; }
  select.addEventListener("change", () => { delete row.dataset.lat; delete row.dataset.lon; translatePlace(row); });
  row.querySelector(".place-remove").addEventListener("click", () => { row.remove(); updateAddButton(); });
  row.querySelector(".place-here").addEventListener("click", async () => {
    try {
      say(t("locating"));
      const p = await position();
      const found = await api("GET", `/geo/locate?lat=${p.lat}&lon=${p.lon}`);
      row.dataset.lat = p.lat; row.dataset.lon = p.lon;
      select.value = found.code;
      if (!row.querySelector(".place-label").value) row.querySelector(".place-label").value = t("here");
      say("");
      translatePlace(row);
    } catch (e) { say(t("failed") + e.message, true); }
  });
  list.append(row);
  translatePlace(row);
  updateAddButton();
}

function translatePlace(row) {
  for (const el of row.querySelectorAll("[data-k]")) el.textContent = t(el.dataset.k);
  row.querySelector(".place-muni").options[0].textContent = t("choose");
  row.querySelector(".place-coords").textContent = row.dataset.lat ? `${t("here")} ✓` : "";
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
    div.querySelector("label").textContent = t(`cat_${c}`);
    div.querySelector("input").checked = selected ? selected.includes(c) : all || chosen.includes(c);
    box.append(div);
  }
}

function formBody() {
  const places = [];
  for (const row of document.querySelectorAll(".place")) {
    const label = row.querySelector(".place-label").value.trim() || `${t("defaultLabel")} ${places.length + 1}`;
    if (row.dataset.lat) places.push({ label, lat: Number(row.dataset.lat), lon: Number(row.dataset.lon) });
    else if (row.querySelector(".place-muni").value) places.push({ label, municipality_code: row.querySelector(".place-muni").value });
  }
  const body = {
    places,
    follow_current_location: $("follow-current").checked,
    categories: [...document.querySelectorAll("#categories input:checked")].map((i) => i.value),
    lang: $("lang-select").value,
    quiet_hours: $("quiet-on").checked ? { start: $("quiet-start").value, end: $("quiet-end").value } : null,
    min_intensity: $("min-intensity").value,
  };
  return body;
}

async function pushSubscription(vapidKey) {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    throw new Error(t("noPush"));
  }
  const permission = await Notification.requestPermission();
  if (permission !== "granted") throw new Error(t("denied"));
  await navigator.serviceWorker.register("/sw.js", { scope: "/" });
  const reg = await navigator.serviceWorker.ready;
  const existing = await reg.pushManager.getSubscription();
  if (existing) return existing;
  return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlBase64ToUint8Array(vapidKey) });
}

async function submit(event) {
  event.preventDefault();
  const body = formBody();
  if (!body.places.length && !body.follow_current_location) { say(t("noPlace"), true); return; }
  const button = $("subscribe");
  button.disabled = true;
  try {
    say(t("working"));
    let location = null;
    if (body.follow_current_location) location = await position().catch(() => null);
    if (current) {
      const saved = JSON.parse(localStorage.getItem(STORE));
      current = await api("PATCH", `/subscriptions/${saved.id}`, body, saved.token);
      if (location) current.current_location = await api("PUT", `/subscriptions/${saved.id}/location`, location, saved.token);
      say(t("saved"));
    } else {
      const { public_key: vapidKey } = await api("GET", "/push/vapid-public-key");
      const sub = (await pushSubscription(vapidKey)).toJSON();
      const created = await api("POST", "/subscriptions", {
        ...body, endpoint: sub.endpoint, keys: sub.keys, current_location: location || undefined,
      });
      localStorage.setItem(STORE, JSON.stringify({ id: created.id, token: created.token, vapidKey }));
      await keepForServiceWorker(created);
      delete created.token;
      current = created;
      say(t("done"));
    }
    showSettings();
  } catch (e) {
    say(t("failed") + e.message, true);
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
  $("registered-categories").textContent = sub.categories.map((k) => t(`cat_${k}`)).join("、");
}

function showSettings() {
  renderSettings(current);
  $("settings").hidden = false;
  $("subscribe-form").hidden = true;
  $("settings-h").focus?.();
}

function showForm(sub) {
  $("place-list").replaceChildren();
  for (const p of (sub && sub.places) || []) addPlace(p);
  if (!$("place-list").children.length) addPlace();
  $("follow-current").checked = Boolean(sub && sub.follow_current_location);
  renderCategories(sub ? sub.categories : choices.categories);
  if (sub) $("lang-select").value = sub.lang;
  $("min-intensity").value = (sub && sub.min_intensity) || "3";
  $("quiet-on").checked = Boolean(sub && sub.quiet_hours);
  if (sub && sub.quiet_hours) { $("quiet-start").value = sub.quiet_hours.start; $("quiet-end").value = sub.quiet_hours.end; }
  $("subscribe").textContent = sub ? t("save") : t("subscribe");
  $("subscribe").dataset.i18n = sub ? "save" : "subscribe";
  $("settings").hidden = true;
  $("subscribe-form").hidden = false;
}

async function unsubscribe() {
  const saved = JSON.parse(localStorage.getItem(STORE) || "null");
  try {
    if (saved) await api("DELETE", `/subscriptions/${saved.id}`, undefined, saved.token).catch((e) => {
      if (e.status !== 404) throw e;
    });
    const reg = await navigator.serviceWorker?.getRegistration("/");
    const sub = reg && (await reg.pushManager.getSubscription());
    if (sub) await sub.unsubscribe();
    localStorage.removeItem(STORE);
    await forgetRegistration().catch(() => {});
    current = null;
    showForm(null);
    say(t("removed"));
  } catch (e) { say(t("failed") + e.message, true); }
}

/* KPI: the server counts page views and installs per day (and municipality, if registered); nothing sent
   here identifies the resident. Best effort: a lost count never bothers the resident. */
function report(kind, municipality = null) {
  fetch(API + "/kpi/events", {
    method: "POST", keepalive: true, headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ kind, municipality }),
  }).catch(() => {});
}

/* Counts go to the first registered place's municipality, when there is one. */
function firstMunicipality() {
  return current && current.places[0] ? current.places[0].municipality_code : null;
}

/* The page refreshes the current location each time it is opened (service workers cannot). */
async function refreshLocation(saved) {
  if (!current.follow_current_location) return;
  const p = await position().catch(() => null);
  if (!p) return;
  current.current_location = await api("PUT", `/subscriptions/${saved.id}/location`, p, saved.token);
  renderSettings(current);
}

/* The service worker renews the push subscription on its own (pushsubscriptionchange) and needs the id and
   token for it; it cannot read localStorage, so they are kept in IndexedDB too (pushsync.js). Best effort:
   without IndexedDB the page still works, only a renewal then waits for the next visit. */
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
  $("lang-switch").addEventListener("click", () => {
    lang = lang === "ja" ? "en" : "ja";
    localStorage.setItem("pushsvc.lang", lang);
    applyLanguage();
  });
  $("add-place").addEventListener("click", () => addPlace());
  $("subscribe-form").addEventListener("submit", submit);
  $("unsubscribe").addEventListener("click", unsubscribe);
  $("edit").addEventListener("click", () => showForm(current));
  choices = await api("GET", "/subscriptions/choices");
  const saved = JSON.parse(localStorage.getItem(STORE) || "null");
  if (saved) {
    try {
      current = await api("GET", `/subscriptions/${saved.id}`, undefined, saved.token);
    } catch (e) {
      if (e.status === 401 || e.status === 403 || e.status === 404) {
        localStorage.removeItem(STORE);
        await forgetRegistration().catch(() => {});
      } else say(t("failed") + e.message, true);
    }
  }
  if (current) {
    await keepForServiceWorker(saved);  // subscribed before the service worker needed it
    await catchUpPushSubscription(saved).catch((e) => say(t("failed") + e.message, true));
  }
  if (current) showSettings(); else showForm(null);
  applyLanguage();
  document.body.dataset.ready = "true";
  report("page_view_resident", firstMunicipality());
  if (current) refreshLocation(saved).catch((e) => say(t("failed") + e.message, true));
}

start().catch((e) => say(t("failed") + e.message, true));
