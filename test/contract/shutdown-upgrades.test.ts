/**
 * SIGTERM while an upgrade's auth hook still runs: the socket that opens
 * during the shutdown is closed with 1001 like every other one, and no socket
 * has its connect hook run without its close hook.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect } from '../support/client.ts';
import { TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();

// In-process hooks share one module: the late socket's auth answers once the first socket's close hook has begun,
// which never ends, so the shutdown waits its whole shutdownTimeout while the late socket opens.
const HOOKS = `
let started;
const closing = new Promise((resolve) => (started = resolve));
export async function auth({ token }) {
  console.error('hook auth ' + token);
  if (token === 'late') await closing;
  return true;
}
export function connect({ token }) { console.error('hook connect ' + token); }
export function close({ token }) {
  console.error('hook close ' + token);
  if (token === 'first') { started(); return new Promise(() => {}); }
}
`;

describe(`SIGTERM during an upgrade on ${TARGET}`, { skip }, () => {
  it('closes a socket that opens during the shutdown with 1001, with no connect hook left without its close hook', async () => {
    const module = join(tempDir(), 'hooks.mjs');
    writeFileSync(module, HOOKS);
    const server = await startServer({ config: { shutdownTimeout: 1, hosts: { 'm.test': { module } } } });
    const first = await connect(server.port, { host: 'm.test', token: 'first' });
    await server.waitForLog(/hook connect first/);
    const late = connect(server.port, { host: 'm.test', token: 'late' });
    await server.waitForLog(/hook auth late/);

    const code = await server.stop('SIGTERM');
    assert.equal(code, 0);
    assert.equal((await first.closed).code, 1001);
    // Refused outright or opened and closed as the others were; never left to the exit to drop (1006).
    const outcome = await late.then(
      (client) => client.closed.then((closed) => closed.code),
      () => 'refused',
    );
    assert.ok(outcome === 1001 || outcome === 'refused', `the late socket ended with ${outcome}`);
    for (const token of ['first', 'late']) {
      if (server.logs.some((l) => l.includes(`hook connect ${token}`))) assert.ok(server.logs.some((l) => l.includes(`hook close ${token}`)), `${token}: connect ran, close did not:\n${server.logs.join('\n')}`);
    }
  });
});
