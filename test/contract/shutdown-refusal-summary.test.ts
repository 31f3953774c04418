/**
 * Upgrades refused while a stop drains the port are logged a few whole and
 * the rest summed (log-budget.ts). The process exits before the sum's second
 * is up: the count is written before "stopped", not lost with the process.
 */
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { connect, upgradeStatus } from '../support/client.ts';
import { until } from '../support/http.ts';
import { TARGET, startServer, targetAvailable, tempDir } from '../support/server.ts';

const skip = targetAvailable();
const UPGRADES = 60;

// The close hook holds the drain open until the test has sent its upgrades (the gate file), bounded so a hook never
// outlives a failed test for long.
const hooks = (closing: string, gate: string) => `<?php
function wsAuth(string $host, string $token, string $socket) { return true; }
function wsClose(string $host, string $token, string $socket) {
    touch(${JSON.stringify(closing)});
    for ($i = 0; $i < 1000 && !file_exists(${JSON.stringify(gate)}); $i++) usleep(10000);
}
`;

describe(`upgrades refused during a stop, on ${TARGET}`, { skip }, () => {
  it('are each a line or counted in a sum written before the process exits', async () => {
    const dir = tempDir();
    const [closing, gate, file] = ['closing', 'gate', 'hooks.php'].map((name) => join(dir, name)) as [string, string, string];
    writeFileSync(file, hooks(closing, gate));
    const server = await startServer({ config: { hosts: { 'sdk.test': { hooks: file, build: false } } } });
    try {
      await connect(server.port, { host: 'sdk.test', token: 'leaving' });
      server.child.kill('SIGTERM');
      await until('the close hook has begun', () => existsSync(closing));
      const statuses = await Promise.all(Array.from({ length: UPGRADES }, (_, i) => upgradeStatus(server.port, { host: 'sdk.test', token: `late-${i}` })));
      assert.deepEqual([...new Set(statuses)], [503]);
      // Released at once: the stop ends well before a second has passed since the first refusal not written.
      writeFileSync(gate, '');
      assert.equal(await server.exited, 0);
      const whole = server.logs.filter((line) => /upgrade refused host=sdk\.test .*reason="the gateway is stopping"/.test(line)).length;
      const sums = server.logs.map((line) => /upgrade refused .*kind=stopping suppressed=(\d+)/.exec(line)).filter((match) => match !== null);
      const summed = sums.reduce((total, match) => total + Number(match[1]), 0);
      assert.ok(whole < UPGRADES, `${whole} lines: the refusals were not bounded`);
      assert.equal(whole + summed, UPGRADES, `${whole} whole lines and ${summed} summed, of ${UPGRADES}:\n${server.logs.join('\n')}`);
      const stopped = server.logs.findIndex((line) => / stopped$/.test(line));
      assert.ok(stopped > server.logs.findIndex((line) => /kind=stopping suppressed=/.test(line)), 'the sum comes before "stopped"');
    } finally {
      await server.stop('SIGKILL');
    }
  });
});
