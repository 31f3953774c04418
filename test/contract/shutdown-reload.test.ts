/**
 * SIGTERM while a reload is still reading: the shutdown has begun, so the
 * reload must not start what the stop already stopped (the new config's
 * schedule), which would run jobs while the gateway waits for close hooks.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { APP, TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

// Imported again at the reload (a new generation), the module waits for the gate file: the reload is held mid-read.
// The close hook of "hold" never ends, so the shutdown waits its whole shutdownTimeout.
const hooks = (gate: string) => `
import { existsSync } from 'node:fs';
if (!existsSync(${JSON.stringify(gate)})) {
  console.error('hook importing');
  await new Promise((resolve) => {
    const poll = setInterval(() => existsSync(${JSON.stringify(gate)}) && (clearInterval(poll), resolve()), 10);
  });
}
export function connect({ token }) { console.error('hook connect ' + token); }
export function close({ token }) { if (token === 'hold') return new Promise(() => {}); }
`;

describe(`SIGTERM during a reload on ${TARGET}`, { skip }, () => {
  it("starts no schedule of the reload's config once the stop has begun", async () => {
    const dir = tempDir();
    const gate = join(dir, 'gate');
    writeFileSync(gate, '');
    const module = join(dir, 'hooks.mjs');
    writeFileSync(module, hooks(gate));
    const config = { tick: false, shutdownTimeout: 2, hosts: { 'm.test': { module } } };
    const server = await startServer({ config });
    const held = await connect(server.port, { host: 'm.test', token: 'hold' });
    await server.waitForLog(/hook connect hold/);

    // The reload's config adds an entry that fails at once, every 0.1 s: any run of it is a log line.
    writeFileSync(server.configFile!, JSON.stringify({ ...config, schedule: [{ app: APP, target: 'jobs::fail', every: 0.1, build: true }] }));
    rmSync(gate);
    server.child.kill('SIGHUP');
    await server.waitForLog(/hook importing/);
    server.child.kill('SIGTERM');
    await server.waitForLog(/stopping signal=SIGTERM/);
    writeFileSync(gate, '');

    assert.equal(await server.exited, 0);
    assert.equal((await held.closed).code, 1001);
    const after = server.logs.slice(server.logs.findIndex((l) => /stopping signal=SIGTERM/.test(l)));
    assert.deepEqual(
      after.filter((l) => /schedule failed|scheduled run/.test(l)),
      [],
      `a schedule ran during the shutdown:\n${after.join('\n')}`,
    );
  });
});
