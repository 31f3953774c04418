/**
 * Client worker for scripts/bench/scale.ts: holds a share of the sockets, each
 * bound to one of several loopback source addresses (so no source address runs
 * out of ephemeral ports), counts the frames they receive, and, with
 * `reconnect`, opens a socket again whenever it closes or is refused, after a
 * random wait of up to `jitterMs` (what a browser client does after a gateway
 * restart). Speaks only over the IPC channel:
 *
 *   driver -> worker  {cmd: 'open', url, host, first, count, addresses, concurrency, reconnect, jitterMs}
 *   worker -> driver  {type: 'opened', open, failed, errors}
 *   driver -> worker  {cmd: 'stats'} -> {type: 'stats', open, frames, refused, reconnects}
 *   driver -> worker  {cmd: 'close'} -> {type: 'done'}, then exits
 */
import WebSocket from 'ws';

const HARD_CAP_MS = 30 * 60 * 1000;
let open = 0;
let frames = 0;
let refused = 0;
let reconnects = 0;
let closing = false;
const sockets = new Set();
let spec;

const send = (message) => {
  if (process.connected) process.send(message);
};

/** Opens socket `i`; resolves with an error text, or undefined once it is open. */
function openOne(i) {
  return new Promise((resolve) => {
    const ws = new WebSocket(spec.url, {
      headers: { cookie: `token=scale-${i}`, host: spec.host },
      localAddress: spec.addresses[i % spec.addresses.length],
      perMessageDeflate: false,
    });
    let opened = false;
    ws.on('open', () => {
      opened = true;
      open++;
      sockets.add(ws);
      resolve(undefined);
    });
    ws.on('message', () => frames++);
    ws.on('unexpected-response', (_request, response) => {
      refused++;
      response.resume();
      ws.terminate();
    });
    ws.on('error', (error) => {
      if (!opened) resolve(error.message);
    });
    ws.on('close', () => {
      sockets.delete(ws);
      if (opened) open--;
      else resolve('closed before open');
      if (spec.reconnect && !closing) setTimeout(() => {
        reconnects++;
        void openOne(i);
      }, Math.random() * spec.jitterMs);
    });
  });
}

process.on('message', async (message) => {
  if (message.cmd === 'open') {
    spec = message;
    const errors = [];
    let failed = 0;
    let next = 0;
    const lane = async () => {
      while (next < spec.count) {
        const error = await openOne(spec.first + next++);
        if (error) {
          failed++;
          if (errors.length < 5) errors.push(error);
        }
      }
    };
    await Promise.all(Array.from({ length: spec.concurrency }, lane));
    send({ type: 'opened', open, failed, errors });
  } else if (message.cmd === 'stats') {
    send({ type: 'stats', open, frames, refused, reconnects });
  } else if (message.cmd === 'close') {
    closing = true;
    for (const ws of sockets) ws.terminate();
    send({ type: 'done' });
    setTimeout(() => process.exit(0), 100);
  }
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), HARD_CAP_MS).unref();
