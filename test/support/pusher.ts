/**
 * The real Pusher clients and SDK against a running wsgate: pusher-js (its
 * Node build) with channel and user auth signed the way an app's
 * /broadcasting/auth does, and the `pusher` server SDK pointed at the
 * gateway's HTTP API.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Pusher from 'pusher';
import PusherJs from 'pusher-js';
import type { Channel, Options } from 'pusher-js';

export interface TestApp {
  id: string;
  key: string;
  secret: string;
}

/** The server SDK, talking to wsgate on 127.0.0.1:port. */
export function serverSdk(app: TestApp, port: number): Pusher {
  return new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(port), useTLS: false });
}

/** The app's auth endpoint as Laravel's /broadcasting/auth: it signs what the app allows (here: everything, `user` on presence). */
function signer(app: TestApp, port: number, user?: { id: string; info?: Record<string, unknown> }) {
  const sdk = serverSdk(app, port);
  return {
    channel: (socketId: string, channel: string) => (channel.startsWith('presence-') ? sdk.authorizeChannel(socketId, channel, { user_id: user?.id ?? 'anon', user_info: user?.info }) : sdk.authorizeChannel(socketId, channel)),
    user: (socketId: string) => sdk.authenticateUser(socketId, { id: user?.id ?? 'anon', ...(user?.info ?? {}) }),
  };
}

/** A pusher-js client of `app` on the gateway at 127.0.0.1:port, connected. */
export async function pusherClient(app: TestApp, port: number, options: { user?: { id: string; info?: Record<string, unknown> }; extra?: Partial<Options> } = {}): Promise<PusherJs> {
  const sign = signer(app, port, options.user);
  const client = new PusherJs(app.key, {
    cluster: 'mt1',
    wsHost: '127.0.0.1',
    wsPort: port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    channelAuthorization: { endpoint: '', transport: 'ajax', customHandler: ({ socketId, channelName }, callback) => callback(null, sign.channel(socketId, channelName)) },
    userAuthentication: { endpoint: '', transport: 'ajax', customHandler: ({ socketId }, callback) => callback(null, sign.user(socketId)) },
    ...options.extra,
  });
  await new Promise<void>((resolve, reject) => {
    client.connection.bind('connected', () => resolve());
    client.connection.bind('failed', () => reject(new Error('pusher-js could not connect')));
  });
  return client;
}

/** Subscribes and waits until the gateway says it succeeded (or rejects with its subscription error). */
export function subscribed(client: PusherJs, name: string): Promise<Channel> {
  const channel = client.subscribe(name);
  return new Promise((resolve, reject) => {
    channel.bind('pusher:subscription_succeeded', () => resolve(channel));
    channel.bind('pusher:subscription_error', (error: unknown) => reject(new Error(`subscription to ${name} failed: ${JSON.stringify(error)}`)));
  });
}

/** The next `event` on a channel (or on the connection, for channel-less events). */
export function nextEvent<T = unknown>(on: { bind(event: string, callback: (data: T, metadata?: unknown) => void): unknown; unbind(event: string, callback: (data: T) => void): unknown }, event: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${event} within ${timeoutMs} ms`)), timeoutMs);
    const handler = (data: T) => {
      clearTimeout(timer);
      on.unbind(event, handler);
      resolve(data);
    };
    on.bind(event, handler);
  });
}

/** A webhook event as the pusher SDK's webhook() gives it. */
export interface WebhookEvent {
  name: string;
  channel: string;
  user_id?: string;
  event?: string;
  data?: string;
  socket_id?: string;
}

/** An app's webhook endpoint on 127.0.0.1: what the SDK's webhook() found valid (also by batch, with its time_ms), and the bodies it did not. */
export async function webhookReceiver(app: TestApp): Promise<{ url: string; received: WebhookEvent[]; batches: Array<{ timeMs: number; events: WebhookEvent[] }>; invalid: string[]; close(): void }> {
  const received: WebhookEvent[] = [];
  const batches: Array<{ timeMs: number; events: WebhookEvent[] }> = [];
  const invalid: string[] = [];
  const sdk = serverSdk(app, 1);
  const server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const webhook = sdk.webhook({ headers: request.headers as Record<string, string>, rawBody: body });
      if (webhook.isValid()) {
        received.push(...(webhook.getEvents() as WebhookEvent[]));
        batches.push({ timeMs: webhook.getTime().getTime(), events: webhook.getEvents() as WebhookEvent[] });
      }
      else invalid.push(body);
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, batches, invalid, close: () => server.close() };
}
