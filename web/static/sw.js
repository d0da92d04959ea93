// The service worker: keeps the app shell on the phone so that pages open, and drafts are made, without signal.
// Served by /sw.js (web/pages/offline.py), which writes in the shell's version and files. Drafts themselves are
// not the worker's: drafts.js keeps them in IndexedDB and sends them; the worker never touches the API.
"use strict";

const VERSION = "__SHELL_VERSION__";
const SHELL = ["__SHELL_URLS__"];
const PREFIX = "riverchief-";
const STATIC_CACHE = PREFIX + "static-" + VERSION;
const PAGE_CACHE = PREFIX + "pages-" + VERSION;
// On a weak signal a page that does not answer within this long is shown from the cache, if it is there.
const PAGE_WAIT_MS = 4000;

const sameSite = (url) => url.origin === self.location.origin;
const isApi = (url) => url.pathname.startsWith("/api/") || url.pathname.startsWith("/open311/");
const keepable = (response) => response && response.ok && response.type === "basic" && !response.redirected;

// Install: the static files and the shell's pages. A page that needs a sign-in the browser does not have
// answers with a redirect to /login, and is not kept: the worker stores only what the person could see.
self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const statics = await caches.open(STATIC_CACHE);
    const pages = await caches.open(PAGE_CACHE);
    await Promise.all(SHELL.map(async (path) => {
      try {
        const response = await fetch(new Request(path, { credentials: "same-origin", cache: "no-cache" }));
        if (keepable(response)) await (path.startsWith("/static/") ? statics : pages).put(path, response);
      } catch (error) {
        // Installed without signal: the page is kept the next time it is opened online.
      }
    }));
    await self.skipWaiting();
  })());
});

// Activate: older versions' caches go, and the open pages are taken over at once.
self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    const names = await caches.keys();
    await Promise.all(
      names.filter((name) => name.startsWith(PREFIX) && name !== STATIC_CACHE && name !== PAGE_CACHE)
        .map((name) => caches.delete(name)),
    );
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (!sameSite(url)) return;
  // Signing out forgets the pages kept for this person (the static files are nobody's).
  if (request.method === "POST" && url.pathname === "/logout") {
    event.waitUntil(caches.delete(PAGE_CACHE));
    return;
  }
  // Never an answer of the API, never a write: those go to the network as they are.
  if (request.method !== "GET" || isApi(url) || url.pathname === "/sw.js") return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFirst(request));
  } else if (request.mode === "navigate" || (request.headers.get("accept") || "").includes("text/html")) {
    event.respondWith(networkFirst(request));
  }
});

// Static files: this version's copy, else the network (and keep what it gives).
async function staticFirst(request) {
  const cache = await caches.open(STATIC_CACHE);
  const kept = await cache.match(request, { ignoreSearch: true });
  if (kept) return kept;
  const response = await fetch(request);
  if (keepable(response)) await cache.put(request, response.clone());
  return response;
}

// Pages: the network first, so a page is never older than it must be; the kept copy without signal.
async function networkFirst(request) {
  const cache = await caches.open(PAGE_CACHE);
  const fromNetwork = fetch(request).then(async (response) => {
    if (keepable(response) && (response.headers.get("content-type") || "").startsWith("text/html")) {
      await cache.put(request, response.clone());
    }
    return response;
  });
  fromNetwork.catch(() => {}); // answered from the cache below; a late failure is nobody's to handle
  const slow = new Promise((resolve) => setTimeout(resolve, PAGE_WAIT_MS, "slow"));
  try {
    const first = await Promise.race([fromNetwork, slow]);
    if (first !== "slow") return first;
    const kept = await cache.match(request);
    return kept || (await fromNetwork);
  } catch (error) {
    const kept = await cache.match(request);
    if (kept) return kept;
    throw error;
  }
}
