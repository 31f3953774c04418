/**
 * Baseline for the fan-out benchmark: the least a Node server can do.
 *
 *   node scripts/bench/baseline-node.mjs [--port 0] [--listen 127.0.0.1]
 *
 * - node:http + ws (noServer): upgrades on /websocket are accepted (no auth).
 * - POST /message {"data": ...}: JSON.stringify(data) once, then ws.send(frame)
 *   for every open client (the idiomatic loop), answers {"status":"ok","sent":N}.
 *
 * Prints `... INFO  listening url=http://HOST:PORT runtime=node-baseline` on
 * stderr once bound, like wsgate, so scripts/bench/fanout.ts can find the port.
 */
import { createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const hostname = flag('listen', '127.0.0.1');
const port = Number(flag('port', '0'));

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });

const json = (res, status, value) => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

const server = createServer((req, res) => {
  const path = req.url.split('?')[0];
  if (path === '/message' && req.method === 'POST') {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return json(res, 400, { status: 'error', message: 'bad json' });
      }
      const frame = JSON.stringify(body?.data ?? {});
      let sent = 0;
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) {
          client.send(frame);
          sent++;
        }
      }
      json(res, 200, { status: 'ok', sent });
    });
    return;
  }
  if (path === '/health') return json(res, 200, { status: 'ok', sockets: wss.clients.size });
  json(res, 404, { status: 'error', message: 'not found' });
});

server.on('upgrade', (req, socket, head) => {
  if (req.url.split('?')[0] !== '/websocket') {
    socket.destroy();
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', () => {});
    ws.on('error', () => {});
  });
});

server.listen(port, hostname, () => {
  const { port: bound } = server.address();
  process.stderr.write(`${new Date().toISOString()} INFO  listening url=http://${hostname}:${bound} runtime=node-baseline node=${process.version}\n`);
});

const stop = () => {
  for (const client of wss.clients) client.terminate();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
