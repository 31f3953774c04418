/**
 * What the runtime adapters depend on in other libraries beyond their
 * documented API, checked against the installed versions: each test fails
 * when a library moves under an adapter, before a contract suite would.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, describe, it } from 'node:test';
import { Hono } from 'hono';
import { defineWebSocketHelper } from 'hono/ws';
import type { WSContext, WSEvents } from 'hono/ws';
import WebSocket from 'ws';
import { createNodeRuntime } from '../../src/runtime/node.ts';
import type { Listener, Runtime, SocketOptions } from '../../src/runtime/types.ts';

const SOCKETS: SocketOptions = { maxFrame: 64, keepalive: 0, sendBuffer: 1 << 20 };
const listeners: Listener[] = [];
after(async () => {
  for (const listener of listeners) await listener.stop();
});

/** A runtime serving one upgrade path whose events `events` makes, on a free loopback port. */
async function serveSockets(runtime: Runtime, events: () => WSEvents<unknown>): Promise<string> {
  const app = new Hono();
  app.get('/ws', (c) => runtime.upgradeWebSocket(c as never, events() as never) as unknown as Response);
  const listener = await runtime.serve(app, { hostname: '127.0.0.1', port: 0, sockets: SOCKETS });
  listeners.push(listener);
  return `ws://127.0.0.1:${listener.port}/ws`;
}

/** The first `count` text frames a client gets, and how it was closed if it was. */
function receive(url: string, count: number, options: WebSocket.ClientOptions = {}): Promise<{ frames: string[]; client: WebSocket }> {
  return new Promise((resolve, reject) => {
    const client = new WebSocket(url, options);
    const frames: string[] = [];
    client.on('message', (data) => {
      frames.push(String(data));
      if (frames.length === count) resolve({ frames, client });
    });
    client.on('error', reject);
  });
}

describe('Node adapter pins (ws, @hono/node-ws)', () => {
  it('writes a cast frame to the upgrade request\'s socket in order with what ws sends, as no extension is negotiated', { timeout: 10_000 }, async () => {
    const runtime = createNodeRuntime();
    const url = await serveSockets(runtime, () => ({
      onOpen: (_event: Event, ws: WSContext<unknown>) => {
        // Strings go through ws; encoded frames straight to the connection: order must hold across both.
        for (let i = 0; i < 20; i++) runtime.wire.send(ws.raw, i % 2 === 0 ? `s${i}` : runtime.wire.encode(`f${i}`));
      },
    }));
    // The client offers permessage-deflate; a server that took it would make ws queue frames while it compresses.
    const { frames, client } = await receive(url, 20, { perMessageDeflate: true });
    assert.equal(client.extensions, '', 'no permessage-deflate: ws writes each frame at once');
    assert.deepEqual(
      frames,
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? `s${i}` : `f${i}`)),
    );
    client.close();
  });

  it('closes a frame over the limit with 1009 and reports 1009 (setMaxPayload, ws\'s error code)', { timeout: 10_000 }, async () => {
    const runtime = createNodeRuntime();
    let reported: (code: number) => void;
    const closed = new Promise<number>((resolve) => (reported = resolve));
    const url = await serveSockets(runtime, () => ({ onClose: (event: CloseEvent) => reported(event.code) }));
    const client = new WebSocket(url);
    await new Promise((resolve) => client.once('open', resolve));
    const clientSaw = new Promise<number>((resolve) => client.once('close', resolve));
    client.send('x'.repeat(SOCKETS.maxFrame + 1));
    assert.equal(await clientSaw, 1009);
    assert.equal(await closed, 1009);
  });

  it('takes each open socket\'s events from node-ws: one listener per event, the same for every socket, each frame and close told once', { timeout: 10_000 }, async (t) => {
    const runtime = createNodeRuntime();
    const raws: WebSocket[] = [];
    const frames: unknown[] = [];
    const closes: number[] = [];
    let twoFrames: () => void;
    const gotFrames = new Promise<void>((resolve) => (twoFrames = resolve));
    let closedA: () => void;
    const gotCloseA = new Promise<void>((resolve) => (closedA = resolve));
    let closedB: () => void;
    const gotCloseB = new Promise<void>((resolve) => (closedB = resolve));
    const url = await serveSockets(runtime, () => ({
      onOpen: (_event: Event, ws: WSContext<unknown>) => {
        raws.push(ws.raw as WebSocket);
        runtime.wire.send(ws.raw, 'open');
      },
      onMessage: (event: MessageEvent) => {
        frames.push(event.data instanceof ArrayBuffer ? [...new Uint8Array(event.data)] : event.data);
        if (frames.length === 2) twoFrames();
      },
      onClose: (event: CloseEvent) => {
        closes.push(event.code);
        if (event.code === 4000) closedA();
        else closedB();
      },
    }));
    // Each got its first frame: the server's turn that opened it, and the microtask after, are over.
    const [a, b] = [await receive(url, 1), await receive(url, 1)];
    t.after(() => {
      a.client.terminate();
      b.client.terminate();
    });
    for (const name of ['message', 'close', 'error'] as const) {
      assert.equal(raws[0]!.listenerCount(name), 1, `one ${name} listener`);
      assert.equal(raws[0]!.listeners(name)[0], raws[1]!.listeners(name)[0], `the same ${name} listener for both sockets`);
    }
    a.client.send('text');
    a.client.send(Buffer.from([1, 2, 3]));
    await gotFrames;
    assert.deepEqual(frames, ['text', [1, 2, 3]]);
    a.client.close(4000);
    await gotCloseA;
    b.client.terminate();
    await gotCloseB;
    // A second listener would have been called in the same emit, before either wait ended.
    assert.deepEqual(closes, [4000, 1006], 'each close told once');
  });

  it('routes an upgrade with the light request: node-ws answers upgrades through app.request', { timeout: 10_000 }, async () => {
    const runtime = createNodeRuntime();
    const app = new Hono();
    let seen: Request | undefined;
    app.get('/ws', (c) => {
      seen = c.req.raw;
      return runtime.upgradeWebSocket(c as never, {} as never) as unknown as Response;
    });
    const listener = await runtime.serve(app, { hostname: '127.0.0.1', port: 0, sockets: SOCKETS });
    listeners.push(listener);
    const client = new WebSocket(`ws://127.0.0.1:${listener.port}/ws?x=1`, { headers: { 'x-test': 'yes' } });
    await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
    client.close();
    assert.ok(seen instanceof Request);
    assert.notEqual(Object.getPrototypeOf(seen), Request.prototype, 'not a Request undici made');
    assert.equal(new URL(seen.url).search, '?x=1');
    assert.equal(seen.headers.get('x-test'), 'yes');
  });

  it('hands an upgrade node:http\'s request as c.env.incoming, whose socket says when its client goes away', { timeout: 10_000 }, async () => {
    const runtime = createNodeRuntime();
    let aborted: () => void;
    const gone = new Promise<void>((resolve) => (aborted = resolve));
    const app = new Hono();
    app.get('/ws', async (c) => {
      const watch = runtime.watchUpgrade(c as never);
      await new Promise<void>((resolve) => watch.addEventListener('abort', resolve, { once: true }));
      watch.done();
      aborted();
      return c.text('gone', 503);
    });
    const listener = await runtime.serve(app, { hostname: '127.0.0.1', port: 0, sockets: SOCKETS });
    listeners.push(listener);
    const socket = connect(listener.port, '127.0.0.1', () => {
      socket.write('GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      setTimeout(() => socket.end(), 50);
    });
    await gone;
  });

  it('keeps nothing of an upgrade once its socket is open: node-ws holds its Context for the socket\'s life', { timeout: 10_000 }, async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const runtime = createNodeRuntime();
    let upgrade: { context: WeakRef<object>; incoming: WeakRef<object>; request: WeakRef<object> } | undefined;
    const app = new Hono();
    app.get('/ws', (c) => {
      const incoming = (c.env as { incoming: object }).incoming;
      upgrade = { context: new WeakRef(c), incoming: new WeakRef(incoming), request: new WeakRef(c.req.raw) };
      return runtime.upgradeWebSocket(c as never, { onOpen: (_event: Event, ws: WSContext<unknown>) => void runtime.wire.send(ws.raw, 'open') } as never) as unknown as Response;
    });
    const listener = await runtime.serve(app, { hostname: '127.0.0.1', port: 0, sockets: SOCKETS });
    listeners.push(listener);
    const { client } = await receive(`ws://127.0.0.1:${listener.port}/ws`, 1);
    try {
      // Past the turn the socket opened in: node-ws sets its listeners up right after onOpen.
      await new Promise((resolve) => setImmediate(resolve));
      gc();
      assert.ok(upgrade, 'the upgrade reached the app');
      assert.equal(upgrade.context.deref(), undefined, 'the Hono Context is let go');
      assert.equal(upgrade.request.deref(), undefined, 'the Request is let go');
      assert.equal(upgrade.incoming.deref(), undefined, 'the IncomingMessage is let go');
      assert.equal(client.readyState, WebSocket.OPEN);
    } finally {
      client.terminate();
    }
  });

  it('gives each runtime its own sockets: two from the factory serve two apps side by side', { timeout: 10_000 }, async () => {
    const first = createNodeRuntime();
    const second = createNodeRuntime();
    const greet = (runtime: Runtime, name: string) => () => ({ onOpen: (_event: Event, ws: WSContext<unknown>) => void runtime.wire.send(ws.raw, runtime.wire.encode(name)) });
    const [a, b] = [await serveSockets(first, greet(first, 'first')), await serveSockets(second, greet(second, 'second'))];
    const [fromA, fromB] = await Promise.all([receive(a, 1), receive(b, 1)]);
    assert.deepEqual([fromA.frames, fromB.frames], [['first'], ['second']]);
    fromA.client.close();
    fromB.client.close();
  });
});

describe('hono pins (the Bun and Deno adapters build on it)', () => {
  const fake = { req: { raw: new Request('http://a/') }, env: {} } as never;

  it('defineWebSocketHelper, called as (c, events), resolves with the handler\'s response and rejects when it gives none', { timeout: 10_000 }, async () => {
    const response = new Response(null);
    const upgraded = defineWebSocketHelper(() => response) as unknown as (c: unknown, events: unknown) => Promise<Response>;
    assert.equal(await upgraded(fake, {}), response);
    const refused = defineWebSocketHelper(() => undefined) as unknown as (c: unknown, events: unknown) => Promise<Response>;
    await assert.rejects(refused(fake, {}), /Failed to upgrade WebSocket/);
  });
});
