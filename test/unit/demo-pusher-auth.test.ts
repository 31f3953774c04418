/**
 * The Pusher demo's POST /pusher/auth in-process: a caller that names its
 * own Host as Origin passes the same-origin check, so the body it sends must
 * be bounded before it is read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Hono } from 'hono';
import type { PusherApp } from '../../src/config/config.ts';
import { mountPusherDemo } from '../../src/demo/pusher-page.ts';

const DEMO = { id: 'demo', key: 'wsgate-demo', secret: 'demo-secret' } as unknown as PusherApp;

function app(): Hono {
  const app = new Hono();
  mountPusherDemo(app, () => DEMO);
  return app;
}

/** A body of `total` bytes made as it is read, counting what the server pulled. */
function countedBody(total: number): { stream: ReadableStream<Uint8Array>; pulled: () => number } {
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  let pulled = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (pulled >= total) return controller.close();
      pulled += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { stream, pulled: () => pulled };
}

const sameOrigin = { host: '127.0.0.1:3001', origin: 'http://127.0.0.1:3001', 'content-type': 'application/x-www-form-urlencoded' };

describe('POST /pusher/auth (the demo)', () => {
  it('signs presence-demo for a page of its own origin', async () => {
    const answer = await app().request('http://127.0.0.1:3001/pusher/auth', { method: 'POST', headers: sameOrigin, body: 'socket_id=1.2&channel_name=presence-demo&name=ann' });
    assert.equal(answer.status, 200);
    assert.match((await answer.json()).auth, /^wsgate-demo:[0-9a-f]{64}$/);
  });

  it('refuses a body that says it is too large, without reading it', async () => {
    const answer = await app().request('http://127.0.0.1:3001/pusher/auth', { method: 'POST', headers: { ...sameOrigin, 'content-length': String(64 * 1024 * 1024) }, body: 'x' });
    assert.equal(answer.status, 413);
  });

  it('stops reading a body of no stated length once it is past the bound', async () => {
    const body = countedBody(64 * 1024 * 1024);
    const answer = await app().request('http://127.0.0.1:3001/pusher/auth', { method: 'POST', headers: sameOrigin, body: body.stream, duplex: 'half' } as RequestInit);
    assert.equal(answer.status, 413);
    assert.ok(body.pulled() < 1024 * 1024, `read ${body.pulled()} bytes of a form that needs a few dozen`);
  });
});
