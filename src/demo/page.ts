/**
 * The demo page at GET /: sets a `token` cookie when there is none, then
 * opens /websocket and shows the host's chat.
 */
import type { Hono } from 'hono';
import { newSocketId } from '../ids.ts';

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsgate demo chat</title>
<style>
  body { font: 16px/1.4 system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; }
  #status { font-size: .9rem; color: #666; }
  #status.up::before { content: "● "; color: #2a8f2a; }
  #status.down::before { content: "● "; color: #c33; }
  #log { list-style: none; padding: .5rem; border: 1px solid #ccc; border-radius: 6px; height: 20rem; overflow-y: auto; }
  #log li { margin: .2rem 0; overflow-wrap: anywhere; }
  #log .mine { color: #0b5394; }
  #log .meta { color: #888; font-style: italic; }
  form { display: flex; gap: .5rem; }
  input { flex: 1; padding: .5rem; font: inherit; }
  button { padding: .5rem 1rem; font: inherit; }
</style>
</head>
<body>
<h1>wsgate demo chat</h1>
<p id="status">connecting…</p>
<ul id="log" aria-live="polite"></ul>
<form id="send"><input id="text" autocomplete="off" maxlength="2000" placeholder="Say something" aria-label="Message"><button>Send</button></form>
<script>
const log = document.getElementById('log');
const status = document.getElementById('status');
let me = '';
const add = (text, kind) => {
  const li = document.createElement('li');
  li.textContent = text;
  if (kind) li.className = kind;
  log.append(li);
  log.scrollTop = log.scrollHeight;
};
let socket;
let delay = 333;
function connect() {
  socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/websocket');
  socket.onopen = () => { status.textContent = 'connected'; status.className = 'up'; delay = 333; };
  socket.onclose = () => { status.textContent = 'disconnected, retrying…'; status.className = 'down'; setTimeout(connect, delay); delay = Math.min(delay * 3, 10000); };
  socket.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    const who = msg.from === me ? msg.from + ' (you)' : msg.from;
    if (msg.type === 'welcome') { me = msg.you; status.textContent = 'connected as ' + me; }
    else if (msg.type === 'chat') add(who + ': ' + msg.text, msg.from === me ? 'mine' : '');
    else if (msg.type === 'join') add(who + ' joined', 'meta');
    else if (msg.type === 'leave') add(who + ' left', 'meta');
  };
}
document.getElementById('send').onsubmit = (event) => {
  event.preventDefault();
  const input = document.getElementById('text');
  // Keep what was typed while disconnected; it can be sent once the socket is back.
  if (!input.value || socket.readyState !== 1) return;
  socket.send(JSON.stringify({ text: input.value }));
  input.value = '';
};
connect();
</script>
</body>
</html>`;

export function mountDemoPage(app: Hono): void {
  app.get('/', (c) => {
    if (!/(?:^|;\s*)token=/.test(c.req.header('cookie') ?? '')) {
      c.header('Set-Cookie', `token=demo-${newSocketId()}; Path=/; SameSite=Lax; HttpOnly`);
    }
    return c.html(PAGE);
  });
  app.get('/favicon.ico', (c) => c.body(null, 204));
}
