/**
 * Closed-loop client for scripts/bench/roundtrip.ts and upgrades.ts (ws
 * package, no compression). Started with child_process.fork(); speaks only
 * over IPC, and the driver drives every phase so that it can read CPU
 * counters at the edges of the measured window:
 *
 *   round trips (one message in flight per socket: send, await the reply, send again)
 *     driver -> {cmd: 'open', url, host, sockets, size, concurrency}  -> {type: 'opened', open, failed, errors, ms}
 *     driver -> {cmd: 'start'}       every socket starts its loop (warm-up: nothing recorded) -> {type: 'started'}
 *                                    and, once every socket has had a reply, {type: 'warm'}
 *     driver -> {cmd: 'mark'}        from now on, replies are recorded     -> {type: 'marked'}
 *     driver -> {cmd: 'stop'}        recording ends, loops stop after their reply in flight
 *                                    -> {type: 'result', ms, latencies, count, mismatches, errors}
 *     driver -> {cmd: 'close'}       close handshake on every socket (bounded) -> {type: 'closed', ms}
 *
 *   upgrades (each lane: connect, wait for open, close, wait for the close, again)
 *     driver -> {cmd: 'upgrades', url, host, lanes}  -> {type: 'started'}, then {type: 'warm'} once every lane has opened once
 *     then 'mark' and 'stop' as above; latencies are connect -> open; 'result' also counts refusals
 *
 * `host` (optional) is sent as the Host header; the cookie is `token=bench-<i>`.
 * A round trip's latency is from send() to the reply's 'message' event, in ms
 * (process.hrtime). Exits when the driver goes away or after a hard cap.
 */
import WebSocket from 'ws';

const HARD_CAP_MS = 15 * 60 * 1000;
const CLOSE_WAIT_MS = 15_000;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const send = (message) => {
  if (process.connected) process.send(message);
};

/** Per phase: 'idle' (open, nothing sent), 'warm' (looping, not recorded), 'record', 'stopping'. */
let phase = 'idle';
let markedAt = 0;
let latencies = [];
let mismatches = 0;
const errors = new Set();
const sockets = [];

function options(host, token) {
  const headers = { cookie: `token=${token}` };
  if (host) headers.host = host;
  return { headers, perMessageDeflate: false, handshakeTimeout: 60_000 };
}

// ---------------------------------------------------------------- round trips

function payload(i, seq, size) {
  const head = `{"s":${i},"n":${seq},"p":"`;
  return `${head}${'x'.repeat(Math.max(0, size - head.length - 2))}"}`;
}

function openOne(url, host, i, size) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, options(host, `bench-${i}`));
    const state = { ws, i, seq: 0, sentAt: 0, expect: '', inFlight: false, size };
    let settled = false;
    ws.on('open', () => {
      settled = true;
      sockets.push(state);
      resolve(undefined);
    });
    ws.on('message', (data) => onReply(state, data));
    ws.on('error', (error) => {
      if (!settled) {
        settled = true;
        resolve(error.message);
      } else if (errors.size < 5) errors.add(error.message);
    });
    ws.on('close', (code) => {
      if (!settled) {
        settled = true;
        resolve(`closed ${code} before open`);
      } else if (phase !== 'closing' && errors.size < 5) errors.add(`socket ${i} closed with ${code}`);
    });
  });
}

function fire(state) {
  state.seq++;
  state.expect = payload(state.i, state.seq, state.size);
  state.inFlight = true;
  state.sentAt = now();
  state.ws.send(state.expect);
}

/** Sockets (or lanes) that have not finished a round trip (an upgrade cycle) since 'start'; 'warm' is sent when none is left. */
let cold = 0;
function warmed(state) {
  if (state.warm) return;
  state.warm = true;
  if (--cold === 0) send({ type: 'warm' });
}

function onReply(state, data) {
  const at = now();
  state.inFlight = false;
  warmed(state);
  if (data.toString() !== state.expect) mismatches++;
  if (phase === 'record') latencies.push(at - state.sentAt);
  if (phase === 'warm' || phase === 'record') fire(state);
}

async function openAll({ url, host, sockets: count, size, concurrency }) {
  const started = now();
  let next = 0;
  let failed = 0;
  const openErrors = new Set();
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const error = await openOne(url, host, i, size);
      if (error) {
        failed++;
        if (openErrors.size < 5) openErrors.add(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  send({ type: 'opened', open: sockets.length, failed, errors: [...openErrors], ms: now() - started });
}

async function closeAll() {
  phase = 'closing';
  const started = now();
  await Promise.all(
    sockets.map(
      ({ ws }) =>
        new Promise((resolve) => {
          if (ws.readyState === WebSocket.CLOSED) return resolve(undefined);
          const timer = setTimeout(() => {
            ws.terminate();
            resolve(undefined);
          }, CLOSE_WAIT_MS);
          ws.once('close', () => {
            clearTimeout(timer);
            resolve(undefined);
          });
          ws.close(1000);
        }),
    ),
  );
  send({ type: 'closed', ms: now() - started });
}

// ---------------------------------------------------------------- upgrades

let refused = 0;

function connectOnce(url, host, token) {
  return new Promise((resolve) => {
    const t0 = now();
    const ws = new WebSocket(url, options(host, token));
    let opened = 0;
    ws.on('open', () => {
      opened = now();
      ws.close(1000);
    });
    ws.on('unexpected-response', (req, res) => {
      refused++;
      res.resume();
      req.destroy();
      resolve({ t0, opened: 0, error: `HTTP ${res.statusCode}` });
    });
    ws.on('error', (error) => {
      if (!opened) resolve({ t0, opened: 0, error: error.message });
    });
    ws.on('close', () => resolve({ t0, opened, error: opened ? undefined : 'closed before open' }));
  });
}

async function upgradeLane(url, host, lane) {
  const state = { warm: false };
  while (phase === 'warm' || phase === 'record') {
    const { t0, opened, error } = await connectOnce(url, host, `bench-${lane}`);
    if (error) {
      if (errors.size < 5) errors.add(error);
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    warmed(state);
    if (phase === 'record' && opened >= markedAt) latencies.push(opened - t0);
  }
}

let lanes = [];

// ---------------------------------------------------------------- commands

process.on('message', (message) => {
  switch (message.cmd) {
    case 'open':
      void openAll(message);
      break;
    case 'start':
      phase = 'warm';
      cold = sockets.length;
      for (const state of sockets) fire(state);
      send({ type: 'started' });
      break;
    case 'upgrades':
      phase = 'warm';
      cold = message.lanes;
      lanes = Array.from({ length: message.lanes }, (_, lane) => upgradeLane(message.url, message.host, lane));
      send({ type: 'started' });
      break;
    case 'mark':
      latencies = [];
      mismatches = 0;
      refused = 0;
      errors.clear();
      markedAt = now();
      phase = 'record';
      send({ type: 'marked' });
      break;
    case 'stop': {
      const ms = now() - markedAt;
      phase = 'stopping';
      const inFlight = sockets.filter((s) => s.inFlight).length;
      send({ type: 'result', ms, latencies, count: latencies.length, mismatches, refused, inFlight, errors: [...errors] });
      break;
    }
    case 'close':
      if (lanes.length) {
        const started = now();
        void Promise.all(lanes).then(() => send({ type: 'closed', ms: now() - started }));
      } else void closeAll();
      break;
  }
});
process.on('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), HARD_CAP_MS).unref();
