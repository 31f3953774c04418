/**
 * Client worker for scripts/bench/index-cast.ts (ws package, no compression):
 * holds a share of the sockets, learns each socket's id from the server (the
 * bench's connect hook sends {"id":"<socket id>"} as its first frame), and
 * counts the cast frames that arrive after that. Started with
 * child_process.fork(); speaks only over IPC:
 *
 *   driver -> {cmd: 'open', url, first, count, concurrency}
 *          <- {type: 'opened', open, failed, errors, sockets: [[index, id], ...]}   (only the sockets opened by this command)
 *   driver -> {cmd: 'count'}            <- {type: 'count', frames, open}
 *   driver -> {cmd: 'shrink', keep}     closes every socket whose index >= keep (close handshake, bounded)
 *                                       <- {type: 'shrunk', open}
 *   driver -> {cmd: 'close'}            terminates every socket <- {type: 'done'}, then exits
 *
 * Socket i sends `Cookie: token=idx-<i>`, so every socket has its own token.
 * Exits when the driver goes away (IPC disconnect) or after a hard cap.
 */
import WebSocket from 'ws';

const HARD_CAP_MS = 20 * 60 * 1000;
const ID_WAIT_MS = 60_000;

/** index -> {ws, id} */
const sockets = new Map();
let frames = 0;
let closing = false;

const send = (message) => {
  if (process.connected) process.send(message);
};

function openOne(url, index) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: { cookie: `token=idx-${index}` }, perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: 60_000 });
    let id;
    let settled = false;
    const settle = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(error);
    };
    const timer = setTimeout(() => settle(`no id frame within ${ID_WAIT_MS} ms`), ID_WAIT_MS);
    ws.on('message', (data) => {
      if (id === undefined) {
        // The first frame is the connect hook's {"id":"..."}.
        try {
          id = JSON.parse(data.toString()).id;
        } catch {
          id = '';
        }
        if (typeof id !== 'string' || !/^[0-9a-f]{16}$/.test(id)) return settle(`first frame was not an id: ${data.toString().slice(0, 80)}`);
        sockets.set(index, { ws, id });
        return settle(undefined);
      }
      frames++;
    });
    ws.on('error', (error) => settle(error.message));
    ws.on('close', (code) => {
      sockets.delete(index);
      settle(`closed ${code} before its id arrived`);
      if (!closing && settled && id !== undefined && process.connected) send({ type: 'closed', index, code });
    });
  });
}

async function openAll({ url, first, count, concurrency }) {
  let next = 0;
  let failed = 0;
  const errors = new Set();
  const opened = [];
  const lane = async () => {
    while (next < count) {
      const index = first + next++;
      const error = await openOne(url, index);
      if (error) {
        failed++;
        if (errors.size < 5) errors.add(error);
      } else opened.push([index, sockets.get(index).id]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  send({ type: 'opened', open: sockets.size, failed, errors: [...errors], sockets: opened });
}

async function shrink(keep) {
  const dropped = [...sockets.entries()].filter(([index]) => index >= keep);
  await Promise.all(
    dropped.map(
      ([index, { ws }]) =>
        new Promise((resolve) => {
          sockets.delete(index);
          const timer = setTimeout(() => {
            ws.terminate();
            resolve(undefined);
          }, 15_000);
          // Expected closes: not reported as 'closed'.
          ws.removeAllListeners('message');
          ws.removeAllListeners('close');
          ws.once('close', () => {
            clearTimeout(timer);
            resolve(undefined);
          });
          ws.close(1000);
        }),
    ),
  );
  send({ type: 'shrunk', open: sockets.size });
}

process.on('message', (message) => {
  switch (message.cmd) {
    case 'open':
      void openAll(message);
      break;
    case 'count':
      send({ type: 'count', frames, open: sockets.size });
      break;
    case 'shrink':
      void shrink(message.keep);
      break;
    case 'close':
      closing = true;
      for (const { ws } of sockets.values()) {
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
