/**
 * Client worker for scripts/bench/scale.ts: holds a share of the sockets, each
 * bound to one of several loopback source addresses (so no source address runs
 * out of ephemeral ports), counts the frames they receive, and, with
 * `reconnect`, opens a socket again whenever it closes or is refused, on
 * wsgate.js's own schedule (src/client/reconnect.ts): `delayMs` (333), then
 * three times longer each failed try, at most 10 s, each ±25 %; an open
 * starts it again from the first delay. Speaks only over the IPC channel:
 *
 *   driver -> worker  {cmd: 'open', url, host, first, count, addresses, concurrency, reconnect, delayMs}
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

/** Failed tries in a row, by socket. */
const attempts = new Map();

/** wsgate.js's delay before the next try: growing by 3 up to 10 s, with ±25 % jitter. */
function delayFor(i) {
  const attempt = (attempts.get(i) ?? 0) + 1;
  attempts.set(i, attempt);
  const wait = Math.min(10_000, spec.delayMs * 3 ** (attempt - 1));
  return wait * (1 + 0.25 * (2 * Math.random() - 1));
}

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
      attempts.delete(i);
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
      }, delayFor(i));
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
