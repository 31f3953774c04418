/**
 * The rest of a WebSocket handshake, checked before any hook runs: the
 * method (GET), the key and version RFC 6455 asks for, and a subprotocol
 * list that parses. The
 * runtimes refuse such a handshake themselves, but only after the gateway
 * has run auth and asked for the upgrade: on Node, @hono/node-ws then keeps
 * its wait for the socket for good (a request anyone could repeat until the
 * heap is full), and Bun answers 500 and logs an error per request.
 */

/** Base64 of 16 bytes (RFC 6455 4.1). */
const KEY = /^[A-Za-z0-9+/]{22}==$/;
/** An HTTP token (RFC 9110 5.6.2): what each subprotocol name must be. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export interface HandshakeProblem {
  status: 400 | 405 | 426;
  message: string;
  /** For 426: the version this server speaks (RFC 6455 4.4). */
  headers?: Record<string, string>;
}

/** Why the handshake cannot be answered with an upgrade, if it cannot. Every runtime refuses another method than GET, but only after auth ran (and Deno upgrades a PUT). */
export function handshakeProblem(header: (name: string) => string | undefined, method = 'GET'): HandshakeProblem | undefined {
  if (method !== 'GET') return { status: 405, message: 'a WebSocket upgrade must be a GET request', headers: { Allow: 'GET' } };
  if (header('sec-websocket-version')?.trim() !== '13') {
    return { status: 426, message: 'Sec-WebSocket-Version must be 13', headers: { 'Sec-WebSocket-Version': '13' } };
  }
  if (!KEY.test(header('sec-websocket-key')?.trim() ?? '')) return { status: 400, message: 'Sec-WebSocket-Key must be 16 bytes in base64' };
  const protocols = header('sec-websocket-protocol');
  if (protocols !== undefined) {
    const names = protocols.split(',').map((name) => name.trim());
    if (names.some((name) => !TOKEN.test(name)) || new Set(names).size !== names.length) {
      return { status: 400, message: 'Sec-WebSocket-Protocol must be a list of distinct protocol names' };
    }
  }
  return undefined;
}
