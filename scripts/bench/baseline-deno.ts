/**
 * Baseline for the fan-out benchmark: the least a Deno server can do;
 * wsgate-deno's ratios are taken against it.
 *
 *   deno run -A scripts/bench/baseline-deno.ts [--port 0] [--listen 127.0.0.1]
 *
 * - Deno.serve + Deno.upgradeWebSocket on /websocket (no auth).
 * - POST /message {"data": ...}: JSON.stringify(data) once, socket.send(frame)
 *   for every open socket, answers {"status":"ok","sent":N}.
 *
 * Prints `... INFO  listening url=http://HOST:PORT runtime=deno-baseline` on stderr once bound.
 */
export {};

interface DenoSocket {
  readyState: number;
  send(data: string): void;
  close(): void;
  onopen: (() => void) | null;
  onclose: (() => void) | null;
  onmessage: (() => void) | null;
  onerror: (() => void) | null;
}
declare const Deno: {
  args: string[];
  version: { deno: string };
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  upgradeWebSocket(request: Request): { socket: DenoSocket; response: Response };
  addSignalListener(signal: string, handler: () => void): void;
  exit(code: number): never;
  stderr: { writeSync(data: Uint8Array): number };
};

const OPEN = 1;
const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
};
const hostname = flag('listen', '127.0.0.1');
const port = Number(flag('port', '0'));
const sockets = new Set<DenoSocket>();

Deno.serve(
  {
    hostname,
    port,
    onListen: (addr) => {
      Deno.stderr.writeSync(new TextEncoder().encode(`${new Date().toISOString()} INFO  listening url=http://${hostname}:${addr.port} runtime=deno-baseline deno=${Deno.version.deno}\n`));
    },
  },
  async (request) => {
    const path = new URL(request.url).pathname;
    if (path === '/websocket' && request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
      const { socket, response } = Deno.upgradeWebSocket(request);
      socket.onopen = () => sockets.add(socket);
      socket.onclose = () => sockets.delete(socket);
      socket.onerror = () => {};
      socket.onmessage = () => {};
      return response;
    }
    if (path === '/message' && request.method === 'POST') {
      let body: { data?: unknown };
      try {
        body = (await request.json()) as { data?: unknown };
      } catch {
        return Response.json({ status: 'error', message: 'bad json' }, { status: 400 });
      }
      const frame = JSON.stringify(body.data ?? {});
      let sent = 0;
      for (const socket of sockets) {
        if (socket.readyState === OPEN) {
          socket.send(frame);
          sent++;
        }
      }
      return Response.json({ status: 'ok', sent });
    }
    if (path === '/health') return Response.json({ status: 'ok', sockets: sockets.size });
    return new Response('not found', { status: 404 });
  },
);

for (const signal of ['SIGTERM', 'SIGINT']) Deno.addSignalListener(signal, () => Deno.exit(0));
