/**
 * Exact HTTP/1.1 requests over a raw TCP socket: for headers that fetch will
 * not let a test set (Host, Sec-Fetch-Site, an empty X-Forwarded-For), and to
 * replay a client's request byte for byte.
 */
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Sends `head` (request line and headers, without the blank line) and `body`; resolves with the parsed answer. */
export function rawRequest(port: number, head: string[], body = '', timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms to ${head[0]}`));
    }, timeoutMs);
    socket.on('connect', () => {
      const lines = [...head, 'Connection: close'];
      if (body && !head.some((h) => /^content-length:/i.test(h))) lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      // latin1 keeps one character per byte, so chunk sizes count right; the body is decoded as UTF-8 at the end.
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const [statusLine, ...headerLines] = text.slice(0, split < 0 ? text.length : split).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? NaN);
      if (!Number.isFinite(status)) return reject(new Error(`not an HTTP answer: ${JSON.stringify(text.slice(0, 200))}`));
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      let rest = split < 0 ? '' : text.slice(split + 4);
      if (/chunked/i.test(headers['transfer-encoding'] ?? '')) rest = unchunk(rest);
      resolve({ status, headers, body: Buffer.from(rest, 'latin1').toString('utf8') });
    });
  });
}

function unchunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const nl = text.indexOf('\r\n', at);
    if (nl < 0) return out;
    const size = parseInt(text.slice(at, nl), 16);
    if (!size) return out;
    out += text.slice(nl + 2, nl + 2 + size);
    at = nl + 2 + size + 2;
  }
}

/** Polls `check` until it holds (a state with no event of its own to await), failing after `timeoutMs`. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
