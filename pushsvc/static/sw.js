/* Service worker: shows each push as a notification and opens the alert's page on click; keeps the page's
   own files so the page opens offline (with the last portal state the page kept, marked as such).
   Message fields (see pushsvc/webpush/payload.py): the Declarative Web Push part `notification`
   {title, body, navigate, lang, tag} (Safari 18.4+ shows it by itself when this worker is not running),
   and id, category, severity, url, lang, sent_at. An updated alert replaces the old notification (tag).
   A click is counted for the KPI (kind and category only: nothing that identifies the resident or alert). */
"use strict";

importScripts("/static/pushsync.js");  // loadRegistration, sendPushSubscription, urlBase64ToUint8Array

const URGENT = new Set(["warning", "emergency"]);
const SHELL_CACHE = "pushsvc-shell-v2";
const SHELL = ["/", "/static/app.js", "/static/pushsync.js", "/static/style.css", "/static/icon.svg",
  "/static/icon-192.png", "/static/ios-home-screen.svg", "/manifest.webmanifest"];
const DEFAULT_TITLE = { ja: "高知県 防災情報", en: "Kochi Prefecture alert" };

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)).catch(() => {}).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => event.waitUntil((async () => {
  for (const name of await caches.keys()) if (name !== SHELL_CACHE) await caches.delete(name);
  await self.clients.claim();
})()));

/* The page's own files: from the network (so updates arrive at once), from the cache when offline. */
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin || !SHELL.includes(url.pathname)) return;
  event.respondWith((async () => {
    try {
      const fresh = await fetch(event.request);
      if (fresh.ok) (await caches.open(SHELL_CACHE)).put(url.pathname, fresh.clone());
      return fresh;
    } catch (e) {
      const kept = await caches.match(url.pathname);
      if (kept) return kept;
      throw e;
    }
  })());
});

function parse(data) {
  if (!data) return {};
  try { return data.json(); } catch (e) { return { body: data.text() }; }
}

/* One push message → one notification; the page, if open, refreshes its portal at once. */
async function showPush(msg) {
  const n = msg.notification || {};
  const lang = n.lang || msg.lang || "ja";
  const title = n.title || msg.title || DEFAULT_TITLE[lang] || DEFAULT_TITLE.en;
  const tag = n.tag || msg.tag || msg.id || undefined;
  await self.registration.showNotification(title, {
    body: n.body ?? msg.body ?? "",
    icon: msg.icon || "/static/icon-192.png",
    badge: "/static/badge-72.png",
    lang,
    tag,
    renotify: Boolean(tag) && !msg.silent,
    silent: Boolean(msg.silent),  // within quiet hours: shown at once, without a sound
    requireInteraction: URGENT.has(msg.severity),
    timestamp: msg.sent_at ? Date.parse(msg.sent_at) : Date.now(),
    data: { url: n.navigate || msg.url || "/", category: msg.category || null },
  });
  for (const client of await self.clients.matchAll({ type: "window", includeUncontrolled: true })) {
    client.postMessage({ type: "push", id: msg.id || null });
  }
}

self.addEventListener("push", (event) => {
  event.waitUntil(showPush(parse(event.data)));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin).href;
  const category = (event.notification.data && event.notification.data.category) || null;
  // Counted alongside opening the page, never before it: opening must not wait for the network.
  const counted = fetch("/api/v1/kpi/events", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ kind: "notification_open", category }),
  }).catch(() => {});
  const opened = (async () => {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    for (const client of windows) {
      if (client.url === url && "focus" in client) return client.focus();
    }
    return self.clients.openWindow(url);
  })();
  event.waitUntil(Promise.all([opened, counted]));
});

/* The browser renewed or dropped the push subscription: subscribe again with the server's VAPID key unless the
   browser already did, and move this resident's subscription to it, authorised by the token the page stored in
   IndexedDB. A named function the handler only calls, because browsers (Chromium) do not let a page or a test
   fire a real pushsubscriptionchange; tests call it inside the service worker instead. */
async function renewPushSubscription(newSubscription) {
  const saved = await loadRegistration();
  if (!saved) return null;  // this browser is not signed up (or unsubscribed)
  let subscription = newSubscription || (await self.registration.pushManager.getSubscription());
  if (!subscription) {
    const response = await fetch("/api/v1/push/vapid-public-key");
    const { public_key: vapidKey } = await response.json();
    subscription = await self.registration.pushManager.subscribe({
      userVisibleOnly: true, applicationServerKey: urlBase64ToUint8Array(vapidKey),
    });
  }
  return sendPushSubscription(saved, subscription);
}

self.addEventListener("pushsubscriptionchange", (event) => {
  event.waitUntil(renewPushSubscription(event.newSubscription || null));
});
