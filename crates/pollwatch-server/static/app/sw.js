// Keeps the observer app working with no signal: the shell and the data it
// needs (forms, stations, who I am) come from this cache when the network
// does not answer. Reports never pass through here: they wait in the app's
// outbox until the server acknowledges them.
'use strict';
const CACHE = 'pollwatch-app-__VERSION__';
const SHELL = ['/app/', '/app/app.js', '/app/app.css', '/app/i18n.json', '/app/manifest.webmanifest'];
const DATA = ['/api/v1/forms', '/api/v1/me', '/api/v1/me/stations'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || url.origin !== location.origin) return;
  if (SHELL.includes(url.pathname) || DATA.includes(url.pathname)) {
    // Network first, so a fresh form or station list wins; the cache when offline.
    e.respondWith(fetch(e.request).then((res) => {
      if (res.ok) { const copy = res.clone(); caches.open(CACHE).then((c) => c.put(e.request, copy)); }
      return res;
    }).catch(() => caches.match(e.request, { ignoreSearch: true })));
  }
});
