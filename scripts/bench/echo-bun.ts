/**
 * Bare WebSocket echo server for scripts/bench/roundtrip.ts and upgrades.ts:
 * the least a Bun server can do per round trip and per upgrade.
 *
 *   bun scripts/bench/echo-bun.ts [--port 0] [--listen 127.0.0.1]
 *
 * Any path upgrades (no auth, no cookie check); every text frame is sent back
 * as it came. Prints `... INFO  listening url=http://HOST:PORT` on stderr once
 * bound, like wsgate, so the drivers can find the port.
 */
export {};

interface BunWebSocket {
  send(data: string | Uint8Array): number;
}
interface BunServer {
  port: number;
  upgrade(request: Request): boolean;
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

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
};
const hostname = flag('listen', '127.0.0.1');

const server = Bun.serve({
  hostname,
  port: Number(flag('port', '0')),
  fetch(request: Request, srv: BunServer) {
    if (srv.upgrade(request)) return undefined;
    return new Response('Upgrade Required', { status: 426 });
  },
  websocket: {
    perMessageDeflate: false,
    message(ws: BunWebSocket, message: string | Uint8Array) {
      ws.send(message);
    },
  },
});

process.stderr.write(`${new Date().toISOString()} INFO  listening url=http://${hostname}:${server.port} runtime=bun-echo bun=${Bun.version}\n`);
const stop = () => {
  server.stop(true);
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
