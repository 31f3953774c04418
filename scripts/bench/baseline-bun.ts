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
 * - --arena: the same state kept without an object per socket: the socket's
 *   data is its place (a number), its token is bytes in one arena, the index
 *   by token a table of places (Int32Array, open addressing) and the sockets
 *   one array by place. The fan-out bench runs it as `arena-bun`: the floor
 *   of a core that keeps socket state in typed arrays.
 * - POST /message {"data": ...}: JSON.stringify(data) once, Bun's native
 *   server.publish() to the topic, answers {"status":"ok","sent":N}.
 *
 * Prints `... INFO  listening url=http://HOST:PORT runtime=bun-baseline` on
 * stderr once bound, like wsgate, so scripts/bench/fanout.ts can find the port.
 */
export {};

interface BunWebSocket {
  subscribe(topic: string): void;
  data: SocketRecord | number | undefined;
}
interface SocketRecord {
  id: string;
  token: string;
}
interface BunServer {
  port: number;
  upgrade(request: Request, options?: { data: SocketRecord | number }): boolean;
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
const arena = args.includes('--arena');

// Dictionaries, as wsgate's KeyIndex: Bun spends less on an object's property than on a Map entry.
const byId: Record<string, BunWebSocket> = Object.create(null);
const byToken: Record<string, BunWebSocket> = Object.create(null);
const tokenOf = (request: Request) => /(?:^|;\s*)token=([^;]*)/.exec(request.headers.get('cookie') ?? '')?.[1] ?? '';

const record = (request: Request): SocketRecord => ({
  id: crypto.getRandomValues(new Uint8Array(8)).reduce((hex, byte) => hex + byte.toString(16).padStart(2, '0'), ''),
  token: tokenOf(request),
});

/** Socket state by place, in typed arrays: no object or string kept per socket. */
class Arena {
  sockets: (BunWebSocket | undefined)[] = [];
  #bytes = new Uint8Array(1 << 16);
  #used = 0;
  #start = new Int32Array(1024);
  #length = new Int32Array(1024);
  #free: number[] = [];
  #places = 0;
  /** Open addressing by token hash: place + 1, 0 empty, -1 deleted. */
  #table = new Int32Array(2048);
  #filled = 0;
  readonly #encoder = new TextEncoder();

  add(token: string): number {
    const place = this.#free.pop() ?? this.#places++;
    if (place >= this.#start.length) {
      this.#start = grow(this.#start, place * 2);
      this.#length = grow(this.#length, place * 2);
    }
    if (this.#used + token.length * 3 > this.#bytes.length) this.#bytes = grow(this.#bytes, (this.#bytes.length + token.length * 3) * 2);
    const { written } = this.#encoder.encodeInto(token, this.#bytes.subarray(this.#used));
    this.#start[place] = this.#used;
    this.#length[place] = written;
    this.#used += written;
    if ((this.#filled + 1) * 2 > this.#table.length) this.#rehash(this.#table.length * 2);
    this.#insert(place);
    this.#filled++;
    return place;
  }

  remove(place: number): void {
    const mask = this.#table.length - 1;
    for (let at = this.#hash(place) & mask; this.#table[at] !== 0; at = (at + 1) & mask) {
      if (this.#table[at] === place + 1) {
        this.#table[at] = -1;
        break;
      }
    }
    this.sockets[place] = undefined;
    this.#free.push(place);
  }

  #hash(place: number): number {
    let hash = 0x811c9dc5;
    const end = this.#start[place]! + this.#length[place]!;
    for (let at = this.#start[place]!; at < end; at++) hash = Math.imul(hash ^ this.#bytes[at]!, 0x01000193);
    return hash >>> 0;
  }

  #insert(place: number): void {
    const mask = this.#table.length - 1;
    let at = this.#hash(place) & mask;
    while (this.#table[at]! > 0) at = (at + 1) & mask;
    this.#table[at] = place + 1;
  }

  #rehash(size: number): void {
    const old = this.#table;
    this.#table = new Int32Array(size);
    for (const entry of old) if (entry > 0) this.#insert(entry - 1);
  }
}

function grow<T extends Int32Array | Uint8Array>(array: T, size: number): T {
  const bigger = new (array.constructor as new (size: number) => T)(size);
  bigger.set(array);
  return bigger;
}

const state = arena ? new Arena() : undefined;

let open = 0;

const server = Bun.serve({
  hostname,
  port,
  async fetch(request: Request, srv: BunServer) {
    const url = new URL(request.url);
    if (url.pathname === '/websocket') {
      const upgraded = state ? srv.upgrade(request, { data: state.add(tokenOf(request)) }) : registry ? srv.upgrade(request, { data: record(request) }) : srv.upgrade(request);
      if (upgraded) return undefined;
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
      if (typeof ws.data === 'number') state!.sockets[ws.data] = ws;
      else if (ws.data) {
        byId[ws.data.id] = ws;
        byToken[ws.data.token] = ws;
      }
    },
    message() {},
    close(ws: BunWebSocket) {
      open--;
      if (typeof ws.data === 'number') state!.remove(ws.data);
      else if (ws.data) {
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
