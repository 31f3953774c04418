/**
 * Seconds that become a timer's delay. Node, Bun and Deno take a delay of
 * at most 2^31-1 ms (about 24.8 days); a longer one fires after 1 ms. So a
 * `"timeout": 2592000` (30 days, "never time out") killed every hook as it
 * started ("timed out after 2592000000 ms"), and a long `authTimeout`
 * refused every first-frame socket at once. The config refuses such values,
 * with the bound, instead of passing them to a timer.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/config.ts';

const THIRTY_DAYS = 30 * 24 * 3600;
/** The longest delay a timer takes, in whole seconds. */
const LONGEST = 2_147_483;

function problems(input: unknown): string[] {
  try {
    parseConfig(input, 'f.json', '/');
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  return [];
}

const HOSTS = { hosts: { 'a.test': '/srv/a/app.php' } };

describe('seconds that become a timer', () => {
  const fields: Array<[string, (s: number) => Record<string, unknown>, RegExp]> = [
    ['timeout', (s) => ({ ...HOSTS, timeout: s }), /f\.json: timeout: /],
    ['a host timeout', (s) => ({ hosts: { 'a.test': { app: '/srv/a/app.php', timeout: s } } }), /hosts\["a\.test"\]\.timeout: /],
    ['shutdownTimeout', (s) => ({ ...HOSTS, shutdownTimeout: s }), /shutdownTimeout: /],
    ['authTimeout', (s) => ({ ...HOSTS, tokenFrom: 'message', authTimeout: s }), /authTimeout: /],
    ['pool.bootTimeout', (s) => ({ ...HOSTS, pool: { bootTimeout: s } }), /pool\.bootTimeout: /],
    ['schedule[].every', (s) => ({ ...HOSTS, schedule: [{ app: '/srv/a/app.php', target: 'tasks::run', every: s }] }), /schedule\[0\]\.every: /],
    ['tick.every', (s) => ({ ...HOSTS, tick: { every: s } }), /tick\.every: /],
    ['cluster.deadline', (s) => ({ ...HOSTS, cluster: { redis: 'redis://127.0.0.1:6379', deadline: s } }), /cluster\.deadline: /],
  ];
  for (const [name, config, where] of fields) {
    it(`${name}: longer than a timer can wait is refused, saying the bound`, () => {
      const found = problems(config(THIRTY_DAYS));
      assert.equal(found.length, 1, `expected one problem, got ${JSON.stringify(found)}`);
      assert.match(found[0]!, where);
      assert.match(found[0]!, /at most 2147483 seconds/);
      assert.deepEqual(problems(config(LONGEST)), [], 'the longest delay a timer takes is fine');
    });
  }

  it('keeps what is not a timer unbounded: history ttl and the replay window', () => {
    assert.deepEqual(problems({ ...HOSTS, history: { size: 10, ttl: THIRTY_DAYS }, replay: { window: THIRTY_DAYS } }), []);
  });
});

/**
 * Bun pings a socket and closes it when it stays silent for `idleTimeout`,
 * which wsgate sets to twice `keepalive`, and which Bun takes up to 960 s:
 * a `"keepalive": 600` passed `wsgate check` and then stopped `wsgate
 * serve` on Bun and the binary ("cannot start: websocket expects
 * idleTimeout to be 960 or less"). The config says so on every runtime.
 */
describe('keepalive', () => {
  it('is refused past 480 seconds, the most Bun can follow, saying the bound', () => {
    const found = problems({ ...HOSTS, keepalive: 600 });
    assert.equal(found.length, 1, `expected one problem, got ${JSON.stringify(found)}`);
    assert.match(found[0]!, /f\.json: keepalive: expected at most 480 seconds/);
    assert.deepEqual(problems({ ...HOSTS, keepalive: 480 }), []);
    assert.deepEqual(problems({ ...HOSTS, keepalive: 0 }), [], '0 still turns pings off');
  });
});
