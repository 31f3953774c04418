// The Pusher HTTP API refuses a body nested too deep with a 400 (in-process, signed by the `pusher` SDK).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Pusher from 'pusher';
import type { PusherApp } from '../../src/config/config.ts';
import { pusherApi } from '../../src/http/pusher/api.ts';
import type { PusherApiGateway } from '../../src/http/pusher/gateway.ts';

const LIMITS = { channelName: 200, eventName: 200, payload: 10240, batch: 10, channels: 100, presenceMembers: 100, userInfo: 1024, subscriptions: 256 };
const APP: PusherApp = { host: 'app.test', sharesHost: true, clientEvents: false, clientEventsPerSecond: 10, activityTimeout: 120, webhooks: [], id: '1001', key: 'app-key', secret: 'app-secret-0123456789', limits: LIMITS };

function setup() {
  const triggered: unknown[] = [];
  const gateway: PusherApiGateway = {
    app: (id) => (id === APP.id ? APP : undefined),
    trigger: async (_app, event) => (triggered.push(event), undefined),
    channels: async () => ({}),
    channel: async () => ({ occupied: false }),
    cache: () => undefined,
    users: async () => [],
    terminateUser: async () => 0,
  };
  const api = pusherApi(gateway, { maxBody: 1 << 20 });
  const signer = new Pusher({ appId: APP.id, key: APP.key, secret: APP.secret, host: 'localhost' });
  const post = (path: string, body: string) => {
    const query = signer.createSignedQueryString({ method: 'POST', path: `/apps/${APP.id}${path}`, body });
    return api.request(`/apps/${APP.id}${path}?${query}`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  };
  return { post, triggered };
}

const deep = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);

describe('pusher api: bodies nested too deep to write out', () => {
  for (const [path, body] of [
    ['/events', `{"name":"e","channel":"c","data":${deep(100_000)}}`],
    ['/batch_events', `{"batch":[{"name":"e","channel":"c","data":${deep(100_000)}}]}`],
  ] as const) {
    it(`answers ${path} with a 400 that says so, not a 500, and publishes nothing`, async () => {
      const t = setup();
      const response = await t.post(path, body);
      const text = await response.text();
      assert.equal(response.status, 400, text);
      assert.match(text, /nested/);
      assert.deepEqual(t.triggered, []);
    });
  }
});
