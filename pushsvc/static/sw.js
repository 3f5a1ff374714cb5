/* Service worker: shows each push as a notification and opens the alert's page on click.
   Message fields (see pushsvc/webpush/payload.py): id, title, body, category, severity, url, lang, sent_at.
   The tag comes from the message so an updated alert replaces the old notification. A click is counted
   for the KPI (kind and category only: nothing that identifies the resident or the alert). */
"use strict";

importScripts("/static/pushsync.js");  // loadRegistration, sendPushSubscription, urlBase64ToUint8Array

const URGENT = new Set(["warning", "emergency"]);

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function parse(data) {
  if (!data) return {};
  try { return data.json(); } catch (e) { return { body: data.text() }; }
}

self.addEventListener("push", (event) => {
  const msg = parse(event.data);
  const title = msg.title || (msg.lang === "en" ? "Kochi Prefecture alert" : "高知県 防災情報");
  const tag = msg.tag || msg.id || undefined;
  event.waitUntil(self.registration.showNotification(title, {
    body: msg.body || "",
    icon: msg.icon || "/static/icon-192.png",
    badge: "/static/badge-72.png",
    lang: msg.lang || "ja",
    tag,
    renotify: Boolean(tag) && !msg.silent,
    silent: Boolean(msg.silent),  // within quiet hours: shown at once, without a sound
    requireInteraction: URGENT.has(msg.severity),
    timestamp: msg.sent_at ? Date.parse(msg.sent_at) : Date.now(),
    data: { url: msg.url || "/", category: msg.category || null },
  }));
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
