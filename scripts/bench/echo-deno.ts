/**
 * Bare WebSocket echo server for scripts/bench/roundtrip.ts and upgrades.ts:
 * Deno.serve + Deno.upgradeWebSocket, the least a Deno server can do per
 * round trip and per upgrade (the socket floor for wsgate on Deno).
 *
 *   deno run --allow-all scripts/bench/echo-deno.ts [--port 0] [--listen 127.0.0.1]
 *
 * Any path upgrades (no auth, no cookie check); every frame is sent back as it
 * came. Prints `... INFO  listening url=http://HOST:PORT` on stderr once
 * bound, like wsgate, so the drivers can find the port.
 */
export {};

interface DenoSocket {
  send(data: string | ArrayBufferLike | Blob | ArrayBufferView): void;
  onmessage: ((event: { data: string | ArrayBuffer }) => void) | null;
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

const args = Deno.args;
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
};
const hostname = flag('listen', '127.0.0.1');

Deno.serve(
  {
    hostname,
    port: Number(flag('port', '0')),
    onListen: (addr) => {
      Deno.stderr.writeSync(new TextEncoder().encode(`${new Date().toISOString()} INFO  listening url=http://${hostname}:${addr.port} runtime=deno-echo deno=${Deno.version.deno}\n`));
    },
  },
  (request) => {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return new Response('Upgrade Required', { status: 426 });
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    socket.onerror = () => {};
    return response;
  },
);

for (const signal of ['SIGTERM', 'SIGINT']) Deno.addSignalListener(signal, () => Deno.exit(0));
