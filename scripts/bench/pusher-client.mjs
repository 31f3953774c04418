/**
 * Client worker for scripts/bench/pusher-fanout.ts (ws package, no
 * compression): holds a share of the sockets, either plain ones (in their
 * channel by the path they open) or Pusher protocol 7 ones (subscribed with
 * pusher:subscribe), and reports, per cast, the monotonic time at which its
 * last socket received that cast. Started with child_process.spawn and an
 * IPC channel; speaks only over it:
 *
 *   driver -> {cmd: 'open', url, mode: 'plain'|'pusher', channel, first, count, concurrency}
 *          <- {type: 'opened', open, failed, errors}
 *          <- {type: 'round', r, at}              at = process.hrtime.bigint() as a string
 *   driver -> {cmd: 'count'}                     <- {type: 'count', frames, min, max, bad, badSample, pings, open}
 *   driver -> {cmd: 'reset'}                     <- {type: 'reset'}   (frame counters to zero)
 *   driver -> {cmd: 'close'}                     <- {type: 'done'}, then exits
 *          <- {type: 'closed', code}             a socket the server closed
 *
 * A cast's data is {"r":<round>,"p":"..."}: a plain socket gets it as it is,
 * a Pusher socket as the text of an event's data ({"event":..,"channel":..,
 * "data":"{\"r\":<round>,..."}). The round is read from the bytes, so the
 * worker spends next to nothing per frame; the first socket of each worker
 * parses every frame in full and checks its shape (channel, event, data).
 * Exits when the driver goes away (IPC disconnect) or after a hard cap.
 */
import WebSocket from 'ws';

const HARD_CAP_MS = 30 * 60 * 1000;
const READY_WAIT_MS = 60_000;
const PLAIN_MARK = Buffer.from('{"r":');
const PUSHER_MARK = Buffer.from('\\"r\\":');
const PONG = JSON.stringify({ event: 'pusher:pong', data: {} });

/** Sockets ready (open; Pusher ones subscribed), each with its frame count. */
const held = [];
/** round -> frames received for it */
const counts = new Map();
let closing = false;
let bad = 0;
let badSample;
let pings = 0;

const send = (message) => {
  if (process.connected) process.send(message);
};

const badFrame = (why) => {
  bad++;
  badSample ??= why.slice(0, 200);
};

/** The round of a cast's frame, read from its bytes; -1 when it carries none. */
function roundOf(data) {
  let i;
  if (data[0] === 0x7b && data[1] === 0x22 && data[2] === 0x72 && data[3] === 0x22) i = PLAIN_MARK.length;
  else {
    const at = data.indexOf(PUSHER_MARK);
    if (at < 0) return -1;
    i = at + PUSHER_MARK.length;
  }
  let r = 0;
  let digits = 0;
  for (;;) {
    const c = data[i++];
    if (c === undefined || c < 48 || c > 57) break;
    r = r * 10 + (c - 48);
    digits++;
  }
  return digits > 0 ? r : -1;
}

/** The full check the first socket of the worker makes of every frame. */
function check(mode, channel, data, r) {
  let frame;
  try {
    frame = JSON.parse(data.toString());
  } catch {
    return badFrame(`not JSON: ${data.toString()}`);
  }
  if (mode === 'plain') {
    if (frame.r !== r || typeof frame.p !== 'string') badFrame(`plain frame: ${data.toString()}`);
    return;
  }
  if (typeof frame.event !== 'string' || frame.event.startsWith('pusher') || frame.channel !== channel || typeof frame.data !== 'string') {
    return badFrame(`pusher event: ${data.toString()}`);
  }
  try {
    const inner = JSON.parse(frame.data);
    if (inner.r !== r || typeof inner.p !== 'string') badFrame(`pusher event data: ${data.toString()}`);
  } catch {
    badFrame(`pusher event data is not JSON text: ${data.toString()}`);
  }
}

function onCast(socket, data, mode, channel) {
  const r = roundOf(data);
  if (r < 0) return badFrame(`no round: ${data.toString()}`);
  socket.frames++;
  if (socket === held[0]) check(mode, channel, data, r);
  const n = (counts.get(r) ?? 0) + 1;
  if (n === held.length) {
    counts.delete(r);
    send({ type: 'round', r, at: process.hrtime.bigint().toString() });
  } else counts.set(r, n);
}

/** Resolves with undefined once the socket is ready (plain: open; Pusher: subscribed), else with why not. */
function openOne({ url, mode, channel }, index) {
  return new Promise((resolve) => {
    const headers = mode === 'plain' ? { cookie: `token=pb-${index}` } : {};
    const ws = new WebSocket(url, { headers, perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: READY_WAIT_MS });
    const socket = { ws, frames: 0 };
    let ready = false;
    const timer = setTimeout(() => settle(`not ready within ${READY_WAIT_MS} ms`), READY_WAIT_MS);
    const settle = (error) => {
      if (ready) return;
      ready = true;
      clearTimeout(timer);
      if (error === undefined) held.push(socket);
      else ws.terminate();
      resolve(error);
    };
    ws.on('open', () => {
      if (mode === 'plain') settle();
    });
    ws.on('message', (data) => {
      if (ready) {
        // A quiet Pusher connection is pinged after its activity timeout: answered, not counted.
        if (mode === 'pusher' && data.indexOf('"pusher:ping"') >= 0) {
          pings++;
          ws.send(PONG);
          return;
        }
        return onCast(socket, data, mode, channel);
      }
      let frame;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return settle(`not JSON before ready: ${data.toString().slice(0, 120)}`);
      }
      if (frame.event === 'pusher:connection_established') ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      else if (frame.event === 'pusher_internal:subscription_succeeded' && frame.channel === channel) settle();
      else settle(`unexpected before ready: ${data.toString().slice(0, 120)}`);
    });
    ws.on('error', (error) => settle(error.message));
    ws.on('close', (code) => {
      settle(`closed ${code} before it was ready`);
      const i = held.indexOf(socket);
      if (i < 0) return;
      held.splice(i, 1);
      if (!closing) send({ type: 'closed', code });
    });
  });
}

async function openAll(message) {
  let next = 0;
  let failed = 0;
  const errors = new Set();
  const lane = async () => {
    while (next < message.count) {
      const error = await openOne(message, message.first + next++);
      if (error === undefined) continue;
      failed++;
      if (errors.size < 5) errors.add(error);
    }
  };
  await Promise.all(Array.from({ length: Math.min(message.concurrency, message.count) }, lane));
  send({ type: 'opened', open: held.length, failed, errors: [...errors] });
}

function tally() {
  let frames = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const s of held) {
    frames += s.frames;
    if (s.frames < min) min = s.frames;
    if (s.frames > max) max = s.frames;
  }
  return { type: 'count', frames, min: held.length ? min : 0, max, bad, badSample, pings, open: held.length };
}

process.on('message', (message) => {
  switch (message.cmd) {
    case 'open':
      void openAll(message);
      break;
    case 'count':
      send(tally());
      break;
    case 'reset':
      for (const s of held) s.frames = 0;
      counts.clear();
      bad = 0;
      badSample = undefined;
      send({ type: 'reset' });
      break;
    case 'close':
      closing = true;
      for (const { ws } of held) {
        try {
          ws.terminate();
        } catch {
          // gone
        }
      }
      send({ type: 'done' });
      setTimeout(() => process.exit(0), 50);
      break;
  }
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), HARD_CAP_MS).unref();
