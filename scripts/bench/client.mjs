/**
 * Client worker for scripts/bench/fanout.ts: holds a share of the benchmark's
 * sockets (ws package) and reports, per cast round, the monotonic time at
 * which its last socket received that round's frame. Started by the driver
 * with child_process.fork(); speaks only over the IPC channel:
 *
 *   driver -> worker  {cmd: 'open', url, count, first, concurrency}
 *   worker -> driver  {type: 'opened', open, failed, errors}
 *   worker -> driver  {type: 'round', r, at}          at = process.hrtime.bigint() as a string
 *   worker -> driver  {type: 'closed', code}          a socket closed (unexpected during rounds)
 *   driver -> worker  {cmd: 'close'} -> {type: 'done'} then exits
 *
 * A frame is the JSON the driver cast: {"r":<round>,"p":"..."}; the round is
 * read straight from the bytes so the client spends next to nothing per frame.
 * Exits by itself when the driver goes away (IPC disconnect) or after a hard cap.
 */
import WebSocket from 'ws';

const HARD_CAP_MS = 15 * 60 * 1000;
const sockets = [];
let open = 0;
let closing = false;
/** round -> frames received for it */
const counts = new Map();

const send = (message) => {
  if (process.connected) process.send(message);
};

/** `{"r":123,...` -> 123, without decoding or parsing the frame. */
function roundOf(data) {
  // data is a Buffer (ws 8 delivers text frames as Buffers with isBinary false).
  let i = 5; // after {"r":
  let r = 0;
  for (;;) {
    const c = data[i++];
    if (c === undefined || c < 48 || c > 57) break;
    r = r * 10 + (c - 48);
  }
  return r;
}

function onFrame(data) {
  const r = roundOf(data);
  const n = (counts.get(r) ?? 0) + 1;
  if (n === open) {
    counts.delete(r);
    send({ type: 'round', r, at: process.hrtime.bigint().toString() });
  } else {
    counts.set(r, n);
  }
}

function openOne(url, token) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { cookie: `token=${token}` }, perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 30000 });
    let settled = false;
    ws.on('open', () => {
      settled = true;
      sockets.push(ws);
      open++;
      resolve(undefined);
    });
    ws.on('message', onFrame);
    ws.on('error', (error) => {
      if (!settled) {
        settled = true;
        resolve(error.message);
      }
    });
    ws.on('close', (code) => {
      if (!settled) {
        settled = true;
        resolve(`closed ${code} before open`);
        return;
      }
      open--;
      if (!closing) send({ type: 'closed', code });
    });
  });
}

async function openAll({ url, count, first, concurrency }) {
  let next = 0;
  let failed = 0;
  const errors = new Set();
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const error = await openOne(url, `bench-${first + i}`);
      if (error) {
        failed++;
        if (errors.size < 5) errors.add(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  send({ type: 'opened', open, failed, errors: [...errors] });
}

async function closeAll() {
  closing = true;
  for (const ws of sockets) {
    try {
      ws.terminate();
    } catch {
      // gone already
    }
  }
  send({ type: 'done' });
  setTimeout(() => process.exit(0), 50);
}

process.on('message', (message) => {
  if (message.cmd === 'open') void openAll(message);
  else if (message.cmd === 'close') void closeAll();
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), HARD_CAP_MS).unref();
