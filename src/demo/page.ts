/**
 * The demo pages: GET / (the lobby) and GET /rooms/<room>. Each sets a
 * `token` cookie when there is none, loads /wsgate.js and joins its room
 * over /ws/rooms/<room>: chat, who is online, and nothing lost over a drop.
 */
import type { Context, Hono } from 'hono';
import { randomHexId } from '../core/ids.ts';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsgate demo chat</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; }
  #status { font-size: .9rem; color: #666; }
  #status.up::before { content: "● "; color: #2a8f2a; }
  #status.down::before { content: "● "; color: #c33; }
  main { display: flex; gap: 1rem; }
  #log { flex: 1; list-style: none; margin: 0 0 .5rem; padding: .5rem; border: 1px solid #ccc; border-radius: 6px; height: 20rem; overflow-y: auto; }
  #log li { margin: .2rem 0; overflow-wrap: anywhere; }
  #log .mine { color: #0b5394; }
  #log .meta { color: #888; font-style: italic; }
  aside { width: 12rem; }
  aside h2 { font-size: 1rem; margin: 0 0 .3rem; }
  #online { list-style: none; padding: 0; margin: 0; }
  #online li::before { content: "● "; color: #2a8f2a; }
  form { display: flex; gap: .5rem; }
  input { flex: 1; padding: .5rem; font: inherit; }
  button { padding: .5rem 1rem; font: inherit; }
  nav { margin-top: 1rem; font-size: .9rem; }
</style>
</head>
<body>
<h1>wsgate demo chat: <span id="room"></span></h1>
<p id="status">connecting…</p>
<main>
  <div style="flex:1">
    <ul id="log" aria-live="polite"></ul>
    <form id="send"><input id="text" autocomplete="off" maxlength="2000" placeholder="Say something" aria-label="Message"><button>Send</button></form>
  </div>
  <aside><h2>Online</h2><ul id="online"></ul></aside>
</main>
<nav>Rooms: <a href="/">lobby</a> · <a href="/rooms/tea">tea</a> · <a href="/rooms/code">code</a> · <a href="/pusher">the same with pusher-js</a></nav>
<script src="/wsgate.js"></script>
<script>
const room = decodeURIComponent(location.pathname.startsWith('/rooms/') ? location.pathname.slice(7) : '') || 'lobby';
document.getElementById('room').textContent = room;
const log = document.getElementById('log');
const status = document.getElementById('status');
const online = document.getElementById('online');
const members = new Map();
let me = '';
const add = (text, kind) => {
  const li = document.createElement('li');
  li.textContent = text;
  if (kind) li.className = kind;
  log.append(li);
  log.scrollTop = log.scrollHeight;
};
const nameOf = (info) => (info && info.name) || 'someone';
const showOnline = () => {
  online.replaceChildren(...[...members].map(([socket, name]) => {
    const li = document.createElement('li');
    li.textContent = socket === ws.socket ? name + ' (you)' : name;
    return li;
  }));
};

const ws = wsgate.connect('/ws/rooms/' + encodeURIComponent(room));
// The path joins the room: listen, do not ask for it.
const chat = ws.subscribe('room:' + room, (msg) => {
  if (msg && msg.type === 'chat') add(msg.socket === ws.socket ? msg.from + ' (you): ' + msg.text : msg.from + ': ' + msg.text, msg.socket === ws.socket ? 'mine' : '');
}, { request: false });
chat.on('join', ({ socket, info }) => { members.set(socket, nameOf(info)); showOnline(); add(nameOf(info) + ' joined', 'meta'); });
chat.on('leave', ({ socket, info }) => { members.delete(socket); showOnline(); add(nameOf(info) + ' left', 'meta'); });
ws.on('connected', async () => {
  status.className = 'up';
  const list = await chat.presence().catch(() => []);
  members.clear();
  for (const m of list) members.set(m.socket, nameOf(m.info));
  me = members.get(ws.socket) || '';
  status.textContent = 'connected as ' + me;
  showOnline();
});
ws.on('disconnected', () => { status.textContent = 'disconnected, reconnecting…'; status.className = 'down'; });
ws.on('recovered', ({ recovered }) => { if (!recovered) add('some messages may have been missed while away', 'meta'); });
document.getElementById('send').onsubmit = (event) => {
  event.preventDefault();
  const input = document.getElementById('text');
  // Sent now, or queued by wsgate.js while it reconnects.
  if (input.value && ws.send({ text: input.value })) input.value = '';
};
</script>
</body>
</html>`;

export function mountDemoPage(app: Hono): void {
  const page = (c: Context) => {
    if (!/(?:^|;\s*)token=/.test(c.req.header('cookie') ?? '')) {
      c.header('Set-Cookie', `token=demo-${randomHexId()}; Path=/; SameSite=Lax; HttpOnly`);
    }
    return c.html(PAGE);
  };
  app.get('/', page);
  app.get('/rooms/:room', page);
  app.get('/favicon.ico', (c) => c.body(null, 204));
}
