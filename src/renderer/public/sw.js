/*
 * Spool Studio's player service worker: adds the Authorization header to media requests (a
 * <video>/<audio> element's fetches: request.destination "video" or "audio") for URLs the page
 * registered (the protected file server, remote playback), so players play files behind HTTP
 * Basic auth without credentials in any URL. Navigations, downloads, fetch() calls and every
 * other request go out untouched: a link to /files/… opened in a tab gets the server's 401, and
 * downloads use signed links instead. Registrations survive a restart of the worker in the Cache API.
 */
const STORE = 'spool-player-auth';
const MEDIA_DESTINATIONS = new Set(['video', 'audio']);
let rules = null;

async function loadRules() {
  if (rules !== null) return rules;
  rules = new Map();
  const cache = await caches.open(STORE);
  const response = await cache.match('/__spool/auth-rules');
  if (response) for (const [prefix, value] of await response.json()) rules.set(prefix, value);
  return rules;
}

async function saveRules() {
  const cache = await caches.open(STORE);
  await cache.put('/__spool/auth-rules', new Response(JSON.stringify([...rules])));
}

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('message', (event) => {
  const data = event.data || {};
  const done = (async () => {
    await loadRules();
    if (data.type === 'auth' && typeof data.prefix === 'string') {
      if (data.authorization) rules.set(data.prefix, data.authorization);
      else rules.delete(data.prefix);
      await saveRules();
    } else if (data.type === 'clear') {
      rules.clear();
      await saveRules();
    }
    if (event.ports && event.ports[0]) event.ports[0].postMessage({ ok: true });
  })();
  event.waitUntil(done);
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = request.url;
  if (new URL(url).origin !== self.location.origin || request.method !== 'GET') return;
  // Only what a media element fetches; never a navigation (mode "navigate", destination "document").
  if (request.mode === 'navigate' || !MEDIA_DESTINATIONS.has(request.destination)) return;
  if (!url.includes('/files/') && !url.includes('/api/playback-sources/')) return;
  event.respondWith(
    (async () => {
      const current = await loadRules();
      let authorization = null;
      for (const [prefix, value] of current) if (url.startsWith(prefix)) authorization = value;
      if (authorization === null) return fetch(request);
      const headers = new Headers();
      for (const [name, value] of request.headers) headers.set(name, value);
      headers.set('Authorization', authorization);
      return fetch(
        new Request(url, {
          method: 'GET',
          headers,
          mode: 'same-origin',
          credentials: 'omit',
          cache: 'no-store',
        }),
      );
    })(),
  );
});
