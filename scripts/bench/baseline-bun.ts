/**
 * Baseline for the fan-out benchmark: the least a Bun server can do.
 *
 *   bun scripts/bench/baseline-bun.ts [--port 0] [--listen 127.0.0.1] [--registry]
 *
 * - GET /websocket with an Upgrade header: accepted (no auth), subscribed to one topic.
 * - --registry: also the least any gateway keeps of a socket, to target it by
 *   id or by user: a record of its own (a random id, the token from its
 *   cookie) as the socket's data, and an index by id and one by token. The
 *   fan-out bench runs it as `registry-bun`, a floor for what state costs.
 * - POST /message {"data": ...}: JSON.stringify(data) once, Bun's native
 *   server.publish() to the topic, answers {"status":"ok","sent":N}.
 *
 * Prints `... INFO  listening url=http://HOST:PORT runtime=bun-baseline` on
 * stderr once bound, like wsgate, so scripts/bench/fanout.ts can find the port.
 */
export {};

interface BunWebSocket {
  subscribe(topic: string): void;
  data: SocketRecord | undefined;
}
interface SocketRecord {
  id: string;
  token: string;
}
interface BunServer {
  port: number;
  upgrade(request: Request, options?: { data: SocketRecord }): boolean;
  publish(topic: string, data: string): number;
  subscriberCount(topic: string): number;
  stop(closeActiveConnections?: boolean): void;
}
declare const Bun: {
  serve(options: Record<string, unknown>): BunServer;
  version: string;
};
declare const process: {
  argv: string[];
  stderr: { write(text: string): void };
  on(signal: string, handler: () => void): void;
  exit(code: number): never;
};

const TOPIC = 'all';
const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
};
const hostname = flag('listen', '127.0.0.1');
const port = Number(flag('port', '0'));
const registry = args.includes('--registry');

// Dictionaries, as wsgate's KeyIndex: Bun spends less on an object's property than on a Map entry.
const byId: Record<string, BunWebSocket> = Object.create(null);
const byToken: Record<string, BunWebSocket> = Object.create(null);
const record = (request: Request): SocketRecord => ({
  id: crypto.getRandomValues(new Uint8Array(8)).reduce((hex, byte) => hex + byte.toString(16).padStart(2, '0'), ''),
  token: /(?:^|;\s*)token=([^;]*)/.exec(request.headers.get('cookie') ?? '')?.[1] ?? '',
});

let open = 0;

const server = Bun.serve({
  hostname,
  port,
  async fetch(request: Request, srv: BunServer) {
    const url = new URL(request.url);
    if (url.pathname === '/websocket') {
      if (registry ? srv.upgrade(request, { data: record(request) }) : srv.upgrade(request)) return undefined;
      return new Response('Upgrade Required', { status: 426 });
    }
    if (url.pathname === '/message' && request.method === 'POST') {
      let body: { data?: unknown };
      try {
        body = (await request.json()) as { data?: unknown };
      } catch {
        return Response.json({ status: 'error', message: 'bad json' }, { status: 400 });
      }
      const frame = JSON.stringify(body.data ?? {});
      // publish() returns bytes, not recipients; with one topic every open socket is a subscriber.
      srv.publish(TOPIC, frame);
      return Response.json({ status: 'ok', sent: srv.subscriberCount(TOPIC) });
    }
    if (url.pathname === '/health') return Response.json({ status: 'ok', sockets: open });
    return new Response('not found', { status: 404 });
  },
  websocket: {
    perMessageDeflate: false,
    open(ws: BunWebSocket) {
      open++;
      ws.subscribe(TOPIC);
      if (ws.data) {
        byId[ws.data.id] = ws;
        byToken[ws.data.token] = ws;
      }
    },
    message() {},
    close(ws: BunWebSocket) {
      open--;
      if (ws.data) {
        delete byId[ws.data.id];
        delete byToken[ws.data.token];
      }
    },
  },
});

process.stderr.write(`${new Date().toISOString()} INFO  listening url=http://${hostname}:${server.port} runtime=bun-baseline bun=${Bun.version}\n`);

const stop = () => {
  server.stop(true);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
