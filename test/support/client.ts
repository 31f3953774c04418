/**
 * A real WebSocket client (ws) with an awaitable inbox.
 */
import WebSocket from 'ws';

export interface ClientOptions {
  host?: string;
  token?: string;
  path?: string;
  headers?: Record<string, string>;
}

export interface Client {
  ws: WebSocket;
  /** The next text frame (waits for it). */
  next(timeoutMs?: number): Promise<string>;
  /** Resolves with the close code once the socket is closed. */
  closed: Promise<{ code: number; reason: string }>;
  send(text: string): void;
  close(): void;
  received: string[];
}

/** Opens a socket; rejects with the HTTP status when the upgrade is refused. */
export function connect(port: number, options: ClientOptions = {}): Promise<Client> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.host) headers.host = options.host;
  if (options.token !== undefined) headers.cookie = `token=${encodeURIComponent(options.token)}`;
  const ws = new WebSocket(`ws://127.0.0.1:${port}${options.path ?? '/websocket'}`, { headers });
  const inbox: string[] = [];
  const received: string[] = [];
  const waiting: Array<(text: string) => void> = [];
  ws.on('message', (data) => {
    const text = data.toString();
    received.push(text);
    const waiter = waiting.shift();
    if (waiter) waiter(text);
    else inbox.push(text);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      reject(Object.assign(new Error(`upgrade refused with ${res.statusCode}`), { status: res.statusCode }));
      ws.terminate();
    });
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        received,
        closed,
        send: (text) => ws.send(text),
        close: () => ws.close(),
        next(timeoutMs = 10_000) {
          const queued = inbox.shift();
          if (queued !== undefined) return Promise.resolve(queued);
          return new Promise((res, rej) => {
            const timer = setTimeout(() => {
              waiting.splice(waiting.indexOf(take), 1);
              rej(new Error(`no frame within ${timeoutMs} ms (received so far: ${JSON.stringify(received)})`));
            }, timeoutMs);
            const take = (text: string) => {
              clearTimeout(timer);
              res(text);
            };
            waiting.push(take);
          });
        },
      }),
    );
  });
}

/** The HTTP status an upgrade attempt got (101 when it was accepted). */
export async function upgradeStatus(port: number, options: ClientOptions = {}): Promise<number> {
  try {
    const client = await connect(port, options);
    client.ws.terminate();
    return 101;
  } catch (error) {
    const status = (error as { status?: number }).status;
    if (status === undefined) throw error;
    return status;
  }
}

/**
 * A client that completes the handshake and then neither reads nor answers
 * pings: a stalled phone, a dead NAT. Resolves once the 101 arrived.
 */
export async function stalledClient(port: number, options: { host: string; token: string }): Promise<import('node:net').Socket> {
  const { connect: tcp } = await import('node:net');
  return new Promise((resolve, reject) => {
    const socket = tcp(port, '127.0.0.1', () => {
      socket.write(
        `GET /websocket HTTP/1.1\r\nHost: ${options.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nCookie: token=${options.token}\r\n\r\n`,
      );
    });
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      // From here on nothing is read: the kernel buffers fill and pings go unanswered.
      socket.pause();
      resolve(socket);
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

/** A frame of the wsgate protocol (`?wsgate=1`), as the history tests read them. */
export type WsgateFrame = { wsgate?: string; channel?: string; epoch?: string; offset?: number; data?: unknown; recovered?: boolean };

/**
 * A wsgate-aware client (`?wsgate=1`, resuming `recover` when given) and
 * the frames it got up to and including `ready`.
 */
export async function connectAware(port: number, options: { host: string; token: string; recover?: Record<string, { epoch: string; offset: number }> }): Promise<{ c: Client; frames: WsgateFrame[] }> {
  const { recover } = options;
  const path = `/websocket?wsgate=1${recover ? `&recover=${encodeURIComponent(JSON.stringify(recover))}` : ''}`;
  const c = await connect(port, { host: options.host, token: options.token, path });
  const frames: WsgateFrame[] = [];
  for (;;) {
    const frame = JSON.parse(await c.next()) as WsgateFrame;
    frames.push(frame);
    if (frame.wsgate === 'ready') return { c, frames };
  }
}
