/**
 * Each runtime factory returns an adapter that shares nothing with the next
 * one: two from the same factory serve two apps side by side, each socket
 * reaches its own app, and (Bun) a publish on one adapter's topics never
 * reaches the other's sockets. Bun and Deno run in a child of their own
 * (Node's twin is in runtime-pins.test.ts); skipped where not installed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../support/server.ts';

// Run from the project root, so that the bare 'hono' resolves to its node_modules.
const SCRIPT = `
import { Hono } from 'hono';
const make = (await import(process.env.ADAPTER))[process.env.FACTORY];
const sockets = { maxFrame: 1024, keepalive: 0, sendBuffer: 1 << 20 };
const serveOne = (runtime, name) => {
  const app = new Hono();
  app.get('/ws', (c) => runtime.upgradeWebSocket(c, {
    onOpen: (_event, ws) => {
      runtime.wire.topics?.subscribe(ws.raw, 't');
      runtime.wire.send(ws.raw, runtime.wire.encode(name));
    },
  }));
  return runtime.serve(app, { hostname: '127.0.0.1', port: 0, sockets });
};
const first = make();
const second = make();
const listeners = [await serveOne(first, 'first'), await serveOne(second, 'second')];
const got = [[], []];
const clients = await Promise.all(listeners.map((listener, i) => new Promise((resolve, reject) => {
  const ws = new WebSocket('ws://127.0.0.1:' + listener.port + '/ws');
  ws.onmessage = (event) => { got[i].push(String(event.data)); resolve(ws); };
  ws.onerror = () => reject(new Error('no upgrade'));
})));
second.wire.topics?.publish('t', 'published');
await new Promise((resolve) => setTimeout(resolve, 200));
console.log(JSON.stringify({ topics: Boolean(second.wire.topics), got }));
for (const client of clients) client.close();
for (const listener of listeners) await listener.stop();
process.exit(0);
`;

const runtimes = [
  { name: 'bun', factory: 'createBunRuntime', argv: ['-e', SCRIPT] },
  { name: 'deno', factory: 'createDenoRuntime', argv: ['eval', '--ext=js', SCRIPT] },
];

describe('runtime factories: a fresh adapter per call', () => {
  for (const { name, factory, argv } of runtimes) {
    const bin = join(ROOT, 'node_modules', '.bin', name);
    it(`${name}: two adapters from ${factory} share no server, socket or topic`, { skip: !existsSync(bin) && `${name} is not installed`, timeout: 30_000 }, () => {
      const run = spawnSync(bin, argv, {
        cwd: ROOT,
        env: { ...process.env, ADAPTER: join(ROOT, 'src', 'runtime', `${name}.ts`), FACTORY: factory },
        encoding: 'utf8',
        timeout: 25_000,
      });
      assert.equal(run.status, 0, run.stderr);
      const { topics, got } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { topics: boolean; got: string[][] };
      // Only Bun has native topics; the publish is the second adapter's, so only its socket gets it.
      assert.deepEqual(got, topics ? [['first'], ['second', 'published']] : [['first'], ['second']]);
      assert.equal(topics, name === 'bun');
    });
  }
});

// The heap after a burst's garbage, before and after the collection that ops/memory-settle.ts asks for.
const GC_SCRIPT = `
const { heapStats } = await import('bun:jsc');
const runtime = (await import(process.env.ADAPTER)).createBunRuntime();
let keep = [];
for (let i = 0; i < 200000; i++) keep.push({ i, text: 'x' + i });
keep = undefined;
const before = heapStats().heapSize;
runtime.collectGarbage();
console.log(JSON.stringify({ before, after: heapStats().heapSize }));
`;

describe('runtime: a full collection on request', () => {
  const bin = join(ROOT, 'node_modules', '.bin', 'bun');
  it('bun: collectGarbage() frees what nothing holds any more', { skip: !existsSync(bin) && 'bun is not installed', timeout: 30_000 }, () => {
    const run = spawnSync(bin, ['-e', GC_SCRIPT], { cwd: ROOT, env: { ...process.env, ADAPTER: join(ROOT, 'src', 'runtime', 'bun.ts') }, encoding: 'utf8', timeout: 25_000 });
    assert.equal(run.status, 0, run.stderr);
    const { before, after } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { before: number; after: number };
    assert.ok(before - after > 5_000_000, `heap ${before} -> ${after}: 200,000 dropped objects should free more than 5 MB`);
  });
});
