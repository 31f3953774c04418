/**
 * The Pusher demo on the built-in default: GET /pusher is a chat on the
 * presence channel `presence-demo` of the demo app, with pusher-js: who is
 * online, messages and "typing" as client events. Its channel auth is
 * POST /pusher/auth, which signs with the demo app's secret on the server
 * (the secret is made per load and never leaves it), for pages of this
 * gateway's own origin only.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { PusherApp } from '../config/config.ts';
import { randomHexId } from '../core/ids.ts';
import { signChannel } from '../protocols/pusher/signatures.ts';

/** Where the page gets pusher-js when this gateway cannot serve it (a binary with no node_modules beside it). */
const PUSHER_CDN = 'https://js.pusher.com/8.4.0/pusher.min.js';
const CHANNEL = 'presence-demo';
/**
 * A socket id, the channel and a name fit in far less. The same-origin check
 * stops browsers only: any other client names its own Host as Origin, and the
 * form would otherwise be read whole into memory, however large.
 */
const AUTH_BODY_BYTES = 4096;

/** Set by build.ts in the compiled binary: pusher-js's browser build, as text. */
declare const WSGATE_PUSHER_JS: string | undefined;

/** pusher-js's browser build: the binary's own copy, else the installed package's (from source), read once. */
function installedPusherJs(): string | undefined {
  if (typeof WSGATE_PUSHER_JS === 'string') return WSGATE_PUSHER_JS;
  for (const base of [import.meta.url, join(process.cwd(), 'package.json')]) {
    try {
      return readFileSync(createRequire(base).resolve('pusher-js/dist/web/pusher.min.js'), 'utf8');
    } catch {
      // Not installed where this base looks: the next, else the page takes it from Pusher's CDN.
    }
  }
  return undefined;
}

const page = (key: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsgate Pusher demo</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; }
  #status { font-size: .9rem; color: #666; }
  main { display: flex; gap: 1rem; }
  #log { flex: 1; list-style: none; margin: 0 0 .5rem; padding: .5rem; border: 1px solid #ccc; border-radius: 6px; height: 20rem; overflow-y: auto; }
  #log li { margin: .2rem 0; overflow-wrap: anywhere; }
  #log .mine { color: #0b5394; }
  #typing { font-size: .9rem; color: #888; min-height: 1.4em; }
  aside { width: 12rem; }
  aside h2 { font-size: 1rem; margin: 0 0 .3rem; }
  #online { list-style: none; padding: 0; margin: 0; }
  form { display: flex; gap: .5rem; }
  input { flex: 1; padding: .5rem; font: inherit; }
  button { padding: .5rem 1rem; font: inherit; }
</style>
</head>
<body>
<h1>wsgate Pusher demo: pusher-js on <code>${CHANNEL}</code></h1>
<p id="status">connecting…</p>
<main>
  <div style="flex:1">
    <ul id="log" aria-live="polite"></ul>
    <p id="typing"></p>
    <form id="send"><input id="text" autocomplete="off" maxlength="500" placeholder="Say something" aria-label="Message"><button>Send</button></form>
  </div>
  <aside><h2>Online</h2><ul id="online"></ul></aside>
</main>
<p><a href="/">wsgate.js rooms demo</a></p>
<script src="/pusher/pusher.js" onerror="var s=document.createElement('script');s.src='${PUSHER_CDN}';s.onload=function(){start()};document.head.appendChild(s)"></script>
<script>
const me = 'guest-' + Math.random().toString(36).slice(2, 7);
const log = (text, mine) => {
  const li = document.createElement('li');
  li.textContent = text;
  if (mine) li.className = 'mine';
  document.getElementById('log').append(li);
};
function start() {
  if (window.started || !window.Pusher) return;
  window.started = true;
  const secure = location.protocol === 'https:';
  const port = Number(location.port) || (secure ? 443 : 80);
  const pusher = new Pusher(${JSON.stringify(key)}, {
    cluster: 'mt1', wsHost: location.hostname, wsPort: port, wssPort: port, forceTLS: secure,
    enabledTransports: ['ws', 'wss'], disableStats: true,
    channelAuthorization: { endpoint: '/pusher/auth', transport: 'ajax', params: { name: me } },
  });
  pusher.connection.bind('state_change', (s) => (document.getElementById('status').textContent = s.current + ' as ' + me));
  const channel = pusher.subscribe(${JSON.stringify(CHANNEL)});
  const online = () => {
    const list = document.getElementById('online');
    list.replaceChildren();
    channel.members.each((m) => { const li = document.createElement('li'); li.textContent = m.info.name; list.append(li); });
  };
  channel.bind('pusher:subscription_succeeded', online);
  channel.bind('pusher:member_added', (m) => { log(m.info.name + ' joined'); online(); });
  channel.bind('pusher:member_removed', (m) => { log(m.info.name + ' left'); online(); });
  channel.bind('client-message', (data, meta) => log(data.from + ': ' + data.text));
  let clear;
  channel.bind('client-typing', (data) => {
    document.getElementById('typing').textContent = data.from + ' is typing…';
    clearTimeout(clear);
    clear = setTimeout(() => (document.getElementById('typing').textContent = ''), 2000);
  });
  let typed = 0;
  document.getElementById('text').oninput = () => {
    // Client events are rate-limited: at most one "typing" a second.
    if (Date.now() - typed > 1000 && channel.subscribed) { typed = Date.now(); channel.trigger('client-typing', { from: me }); }
  };
  document.getElementById('send').onsubmit = (event) => {
    event.preventDefault();
    const input = document.getElementById('text');
    if (!input.value || !channel.subscribed) return;
    channel.trigger('client-message', { from: me, text: input.value });
    log(me + ': ' + input.value, true);
    input.value = '';
  };
  window.demo = { pusher, channel, me };
}
start();
</script>
</body>
</html>`;

/** Whether a request comes from a page of this gateway's own origin (no other site may get the demo's signatures). */
function sameOrigin(c: Context): boolean {
  const origin = c.req.header('origin');
  if (origin === undefined) return false;
  try {
    return new URL(origin).host === c.req.header('host');
  } catch {
    return false;
  }
}

/** The demo's pages, for the demo app the config has now (its secret is new at every load). */
export function mountPusherDemo(app: Hono, demoApp: () => PusherApp | undefined): void {
  const script = installedPusherJs();
  app.get('/pusher', (c) => {
    const demo = demoApp();
    return demo ? c.html(page(demo.key)) : c.text('the Pusher demo app is not configured', 404);
  });
  app.get('/pusher/pusher.js', (c) => (script === undefined ? c.text('pusher-js is not installed here', 404) : c.body(script, 200, { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'max-age=3600' })));
  const capped = bodyLimit({ maxSize: AUTH_BODY_BYTES, onError: (c) => c.text(`the form is larger than ${AUTH_BODY_BYTES} bytes`, 413) });
  app.post('/pusher/auth', capped, async (c) => {
    const demo = demoApp();
    if (!demo) return c.text('the Pusher demo app is not configured', 404);
    if (!sameOrigin(c)) return c.text('the demo signs for its own pages only', 403);
    const form = await c.req.parseBody();
    const socketId = String(form.socket_id ?? '');
    const channel = String(form.channel_name ?? '');
    if (channel !== CHANNEL || !/^\d+\.\d+$/.test(socketId)) return c.text('only presence-demo', 403);
    const name = String(form.name ?? '').replace(/[^\w-]/g, '').slice(0, 40) || `guest-${randomHexId().slice(0, 5)}`;
    const channelData = JSON.stringify({ user_id: name, user_info: { name } });
    return c.json({ auth: signChannel(demo, socketId, channel, channelData), channel_data: channelData });
  });
}
