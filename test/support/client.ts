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
