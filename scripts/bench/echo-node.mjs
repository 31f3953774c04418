/**
 * Bare WebSocket echo server for scripts/bench/roundtrip.ts and upgrades.ts:
 * node:http + ws (noServer), the least a Node server can do per round trip
 * and per upgrade.
 *
 *   node scripts/bench/echo-node.mjs [--port 0] [--listen 127.0.0.1]
 *
 * Any path upgrades (no auth, no cookie check); every frame is sent back as it
 * came (text stays text). Prints `... INFO  listening url=http://HOST:PORT`
 * on stderr once bound, like wsgate.
 */
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const hostname = flag('listen', '127.0.0.1');

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
const server = createServer((req, res) => {
  res.writeHead(426).end('Upgrade Required');
});
server.on('upgrade', (req, socket, head) => {
  wss.handleUpgrade(req, socket, head, (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  });
});
server.listen(Number(flag('port', '0')), hostname, () => {
  process.stderr.write(`${new Date().toISOString()} INFO  listening url=http://${hostname}:${server.address().port} runtime=node-echo node=${process.version}\n`);
});
const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  server.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
