/* Shared by the resident page and the service worker (importScripts): where the subscription's id and token
   are kept for the service worker, which cannot read localStorage, and how a renewed push subscription
   reaches the server. The page writes {id, token} to IndexedDB when it subscribes and deletes it when it
   unsubscribes; the service worker only reads it. */
"use strict";

const PUSHSYNC_DB = "pushsvc";
const PUSHSYNC_STORE = "registration";
const PUSHSYNC_KEY = "subscription";

function urlBase64ToUint8Array(text) {
  const pad = "=".repeat((4 - (text.length % 4)) % 4);
  const raw = atob((text + pad).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

function openRegistrationStore() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(PUSHSYNC_DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(PUSHSYNC_STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function registrationStore(mode, action) {
  const db = await openRegistrationStore();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(PUSHSYNC_STORE, mode);
      const req = action(tx.objectStore(PUSHSYNC_STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/* {id, token} of this browser's subscription at the server, or null. */
async function loadRegistration() {
  return (await registrationStore("readonly", (s) => s.get(PUSHSYNC_KEY))) || null;
}

function saveRegistration(saved) {
  return registrationStore("readwrite", (s) => s.put({ id: saved.id, token: saved.token }, PUSHSYNC_KEY));
}

function forgetRegistration() {
  return registrationStore("readwrite", (s) => s.delete(PUSHSYNC_KEY));
}

/* Move the resident's subscription to the browser's new push subscription (same id, same token). */
async function sendPushSubscription(saved, subscription) {
  const { endpoint, keys } = subscription.toJSON();
  const response = await fetch(`/api/v1/subscriptions/${saved.id}`, {
    method: "PATCH",
    headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${saved.token}` },
    body: JSON.stringify({ endpoint, keys }),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw Object.assign(new Error(data.detail || `HTTP ${response.status}`), { status: response.status });
  }
  return data;
}
