/**
 * The core in-process: a Gateway over a fake wire, with module hooks given
 * as plain functions and a memory broker. No server, no PHP, no sockets:
 * what a connection is sent is what its fake socket holds.
 */
import { Gateway } from '../../src/gateway.ts';
import { parseConfig } from '../../src/config/config.ts';
import type { Config } from '../../src/config/config.ts';
import { Client } from '../../src/core/client.ts';
import type { Authorized } from '../../src/core/client.ts';
import type { Refusal } from '../../src/core/admission.ts';
import { MemoryBroker } from '../../src/core/memory-broker.ts';
import type { Broker } from '../../src/core/broker.ts';
import type { Route } from '../../src/core/route.ts';
import { ModuleRunner } from '../../src/hooks/runners/module.ts';
import type { HookModule } from '../../src/hooks/runners/module.ts';
import { Pools } from '../../src/hooks/pool/pools.ts';
import { createLogger } from '../../src/ops/log.ts';
import { AWARE, PLAIN } from '../../src/protocols/wsgate/protocol.ts';
import { moduleCast } from '../../src/hooks/runners/module-cast.ts';
import type { OutFrame, Wire } from '../../src/runtime/types.ts';
import type { PusherApp } from '../../src/config/config.ts';
import { PusherConnection } from '../../src/protocols/pusher/connection.ts';
import { PUSHER } from '../../src/protocols/pusher/protocol.ts';
import { pusherIdText } from '../../src/core/socket-ids.ts';
import type { WSContext } from 'hono/ws';

/** A Pusher app for the in-process core's tests: client events on, small limits. */
export const PUSHER_APP: PusherApp = {
  id: '1',
  key: 'app-key',
  secret: 'app-secret-of-some-length',
  host: 'a.test',
  sharesHost: true,
  clientEvents: true,
  clientEventsPerSecond: 10,
  activityTimeout: 120,
  limits: { channelName: 200, eventName: 200, payload: 10240, batch: 10, channels: 100, presenceMembers: 100, userInfo: 1024, subscriptions: 256 },
  webhooks: [],
};


/** A socket as the fake runtime holds it: what it was sent, and how it was closed. */
export class FakeSocket {
  readonly sent: string[] = [];
  closed: { code?: number; reason?: string } | undefined;
  /** Bytes the fake pretends are still queued (a client that does not read). */
  buffered = 0;
  client!: Client;

  /** The frames sent so far, parsed, and forgotten. */
  take(): unknown[] {
    return this.sent.splice(0).map((text) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
    });
  }
}

const decoder = new TextDecoder();

export interface Core {
  gateway: Gateway;
  config: Config;
  lines: string[];
  /** Upgrades a client of `host` with `token` (plain, or aware with `recover`), through auth, and opens it. */
  connect(host: string, token: string, options?: { aware?: boolean; path?: string; openLate?: boolean }): Promise<FakeSocket>;
  /** As connect(), for an upgrade that must be refused: the refusal. */
  refused(host: string, token: string): Promise<Refusal>;
  /** The client sends a text frame. */
  send(socket: FakeSocket, text: string): void;
  /** Opens a Pusher connection of `app` (its host configured in the file, or its own), as the /app/{key} upgrade does. */
  connectPusher(app: PusherApp): Promise<FakeSocket>;
  /** Lets every queued lane and microtask run. */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/** A gateway with `hosts` (config form) whose module hooks are `hooks[host]`. */
export function startCore(file: Record<string, unknown>, hooks: Record<string, HookModule>, broker: Broker = new MemoryBroker()): Core {
  const config = parseConfig(file, 'test.json', '/tmp');
  const lines: string[] = [];
  const log = createLogger((line) => lines.push(line), 'debug');
  let gateway!: Gateway;
  const wire: Wire = {
    encode: (frame) => frame,
    send(raw, frame: OutFrame) {
      const socket = raw as FakeSocket;
      if (socket.closed) throw new Error('closed');
      socket.sent.push(typeof frame === 'string' ? frame : decoder.decode(frame));
      return socket.buffered;
    },
    close(raw, code, reason) {
      const socket = raw as FakeSocket;
      if (socket.closed) return;
      socket.closed = { code, reason };
      // The runtime's close event comes after the call, as it does on a real socket.
      queueMicrotask(() => gateway.closed(socket.client, code ?? 1005));
    },
    terminate(raw) {
      const socket = raw as FakeSocket;
      socket.closed ??= { code: 1006 };
    },
  };
  const pools = new Pools(1, 'php', () => {
    throw new Error('no processes in the in-process core');
  }, log);
  gateway = new Gateway(config, new Map(), log, pools, wire, broker);
  const cast = moduleCast(gateway);
  gateway.reload(config, new Map<string, Route>(config.hosts.map((host) => [host.key, { config: host, runner: new ModuleRunner(hooks[host.key] ?? {}, cast) }])));

  /** openLate: its place is given up before it opens, as when it opens after HANDOVER_MS. */
  const upgrade = async (host: string, token: string, options: { aware?: boolean; path?: string; openLate?: boolean } = {}): Promise<Authorized | Refusal> => {
    const admitted = gateway.admit(host, token);
    if ('refused' in admitted) return admitted.refused;
    try {
      return await gateway.authorize(host, token, gateway.upgradePath(options.path ?? '/websocket'), { protocol: options.aware ? AWARE : PLAIN });
    } finally {
      admitted.ticket.release();
    }
  };
  const settle = async () => {
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  };
  return {
    gateway,
    config,
    lines,
    async connect(host, token, options) {
      const authorized = await upgrade(host, token, options);
      if ('status' in authorized) throw new Error(`refused: ${authorized.status} ${authorized.reason}`);
      if (options?.openLate) gateway.hub.reservations.unreserve(authorized.serial);
      const socket = new FakeSocket();
      socket.client = new Client(authorized);
      gateway.open(socket.client, socket);
      await settle();
      return socket;
    },
    async refused(host, token) {
      const authorized = await upgrade(host, token);
      if (!('status' in authorized)) throw new Error('expected a refusal');
      return authorized;
    },
    async connectPusher(app) {
      const route = gateway.route(app.host);
      if (!route) throw new Error(`no route for ${app.host}`);
      const serial = gateway.hub.reservations.reserve()!;
      gateway.hub.reservations.handOver(serial);
      const id = pusherIdText(serial);
      const socket = new FakeSocket();
      const connection = new PusherConnection(gateway, gateway.pusher, { id, serial, host: app.host, token: id, tokenHash: '', route, client: { protocol: PUSHER } }, app);
      socket.client = connection;
      connection.onOpen(new Event('open'), { raw: socket } as unknown as WSContext<unknown>);
      await settle();
      return socket;
    },
    send(socket, text) {
      gateway.message(socket.client, text);
    },
    settle,
    stop: () => gateway.shutdown(),
  };
}
