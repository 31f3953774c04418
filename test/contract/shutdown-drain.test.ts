/**
 * SIGTERM with the bridge on the public port (no "bridge" address): the port
 * drains rather than closes. New upgrades are refused (503) and /health says
 * "stopping", while the close hooks and the last webhook batches, handled by
 * resident PHP workers, still cast back through the bridge on that port. It
 * closes once they are done: the batch is not retried until the webhooks'
 * 5 s deadline and then dropped.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { until } from '../support/http.ts';
import { pusherClient, subscribed } from '../support/pusher.ts';
import { TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();
const APP = { id: 'drain-app', key: 'drain-key', secret: 'the-drain-secret-0123456789' };
/** The webhooks' own stop deadline (src/protocols/pusher/webhook-options.ts). */
const WEBHOOK_DEADLINE_MS = 5000;
// A stop that waited for that deadline takes longer than it. The bound is that deadline, not a guess at how fast a
// stop is: on a slow, busy machine a PHP close hook, its cast and the runtime's exit can take seconds.
const BEFORE_WEBHOOK_DEADLINE_MS = WEBHOOK_DEADLINE_MS - 500;

// The close hook holds the drain open until the test has looked at the port (the gate file), bounded so a worker
// never outlives a failed test for long.
// A worker's stderr is logged when its job ends, so the hook says it has begun with a file.
const hooks = (closing: string, gate: string) => `<?php
function wsAuth(string $host, string $token, string $socket) { return true; }
function wsClose(string $host, string $token, string $socket) {
    touch(${JSON.stringify(closing)});
    for ($i = 0; $i < 1000 && !file_exists(${JSON.stringify(gate)}); $i++) usleep(10000);
    $sent = wsCast(['left' => $token], 'all', $socket, $host);
    fwrite(STDERR, "close cast sent $sent\\n");
}
function wsWebhook(string $host, string $app, array $events, int $timeMs) {
    $sent = wsCast(['webhook' => $events], 'all', '', $host);
    $names = implode(',', array_map(fn ($e) => $e['name'] . ':' . $e['channel'], $events));
    fwrite(STDERR, "webhook cast sent $sent events=$names\\n");
}
`;

describe(`SIGTERM with the bridge on the public port on ${TARGET}`, { skip }, () => {
  it("drains the port: refuses upgrades, says so on /health, and serves the close hooks' and webhooks' casts until they are done", async () => {
    const dir = tempDir();
    const [closing, gate, file] = ['closing', 'gate', 'hooks.php'].map((name) => join(dir, name)) as [string, string, string];
    writeFileSync(file, hooks(closing, gate));
    const server = await startServer({
      config: {
        hosts: { 'sdk.test': { hooks: file, build: false } },
        pusher: { apps: [{ ...APP, host: 'sdk.test', webhooks: [{ host: 'sdk.test', events: ['channel_occupied', 'channel_vacated'] }] }] },
      },
    });
    const leaving = await connect(server.port, { host: 'sdk.test', token: 'leaving' });
    const pusher = await pusherClient(APP, server.port);
    try {
      await subscribed(pusher, 'room');
      await server.waitForLog(/webhook cast sent \d+ events=channel_occupied:room/);

      // The stop closes the Pusher socket, which queues channel_vacated for a worker, then waits for the close hook.
      server.child.kill('SIGTERM');
      await until('the close hook has begun', () => existsSync(closing));
      const upgrade = await upgradeStatus(server.port, { host: 'sdk.test', token: 'late' }).catch((error: Error) => error.message);
      const health = await fetch(`${server.url}/health`).then(
        async (answer) => ({ status: answer.status, body: (await answer.json()) as { status?: string } }),
        (error: Error) => error.message,
      );
      writeFileSync(gate, '');
      const released = performance.now();
      assert.equal(await server.exited, 0);
      const took = performance.now() - released;

      assert.equal((await leaving.closed).code, 1001);
      assert.ok(server.logs.some((l) => /webhook cast sent \d+ events=channel_vacated:room/.test(l)), `the queued batch reached the worker, whose cast reached the bridge:\n${server.logs.join('\n')}`);
      assert.ok(server.logs.some((l) => /close cast sent \d+/.test(l)), `the close hook's cast reached the bridge:\n${server.logs.join('\n')}`);
      assert.ok(!server.logs.some((l) => /stop-deadline/.test(l)), 'no webhook batch was dropped at the deadline');
      assert.ok(took < BEFORE_WEBHOOK_DEADLINE_MS, `the stop ended ${Math.round(took)} ms after the close hook, not at the webhooks' 5 s deadline`);
      assert.equal(upgrade, 503, 'a new upgrade during the stop is refused with 503');
      assert.deepEqual(typeof health === 'string' ? health : { status: health.status, said: health.body.status }, { status: 503, said: 'stopping' });
    } finally {
      pusher.disconnect();
      await server.stop('SIGKILL');
    }
  });
});

describe(`SIGTERM with a webhook that keeps failing on ${TARGET}`, { skip }, () => {
  it('gives up on it within shutdownTimeout, not the webhooks\' own 5 s', async () => {
    const file = join(tempDir(), 'hooks.php');
    writeFileSync(file, `<?php\nfunction wsWebhook(string $host, string $app, array $events, int $timeMs) { throw new RuntimeException('the app is down'); }\n`);
    const server = await startServer({
      config: {
        shutdownTimeout: 1,
        hosts: { 'sdk.test': { hooks: file, build: false } },
        pusher: { apps: [{ ...APP, host: 'sdk.test', webhooks: [{ host: 'sdk.test', events: ['channel_occupied'] }] }] },
      },
    });
    const pusher = await pusherClient(APP, server.port);
    try {
      await subscribed(pusher, 'room');
      await server.waitForLog(/webhook app=drain-app .*result=retry/);
      const signalled = performance.now();
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0);
      const took = performance.now() - signalled;
      assert.ok(took < BEFORE_WEBHOOK_DEADLINE_MS, `the stop took ${Math.round(took)} ms with shutdownTimeout 1 s, not the webhooks' 5 s`);
      // The deadline it gave up at, as it says: what shutdownTimeout left, not the webhooks' own.
      const deadline = Number(/dropped=1 deadline_ms=(\d+)/.exec(await server.waitForLog(/result=stop-deadline/))?.[1]);
      assert.ok(deadline <= 1000, `gave up at a deadline of ${deadline} ms`);
    } finally {
      pusher.disconnect();
      await server.stop('SIGKILL');
    }
  });
});
