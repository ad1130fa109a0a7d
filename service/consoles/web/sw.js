// The web console's service worker, served at /console/sw.js with scope /console: it
// keeps the console's own files (page, scripts, styles, icons) so the page opens with no
// connection. Network first, so a deploy is seen as soon as the phone is online; the
// cache only when the network fails. Nothing else is cached: never /v1 (people's data),
// never the socket, never the tile server.
"use strict";

const CACHE = "corespond-console-v1";
const PAGE = "/console";
const ALSO = ["/console/manifest.webmanifest", "/console/static/icons/icon-192.png", "/console/static/icons/icon-512.png"];

// The page's own scripts and styles, as its HTML names them today (so this list never
// falls behind the page).
function filesOf(html) {
  return [...html.matchAll(/(?:src|href)="(\/console\/static\/[^"?#]+)"/g)].map((m) => m[1]);
}

function ours(url) {
  return url.origin === self.location.origin
    && (url.pathname === "/console" || url.pathname === "/console/manifest.webmanifest"
      || url.pathname.startsWith("/console/static/"));
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const page = await fetch(PAGE);
    if (page.ok) await cache.put(PAGE, page.clone());
    const files = page.ok ? filesOf(await page.text()) : [];
    // One by one: a file that fails must not stop the others being kept.
    await Promise.all([...ALSO, ...files].map((path) => cache.add(path).catch(() => undefined)));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || !ours(url)) return; // the browser fetches it as usual
  event.respondWith(fetch(request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      event.waitUntil(caches.open(CACHE).then((cache) => cache.put(request, copy)));
    }
    return response;
  }).catch(() => caches.match(request, { ignoreSearch: true }).then((hit) => hit || Response.error())));
});
