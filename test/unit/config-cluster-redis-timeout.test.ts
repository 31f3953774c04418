/**
 * `cluster.redisTimeout`: how long the bus's Redis commands may go
 * unanswered before the node counts Redis as down. It was always half the
 * `deadline`, so a longer deadline (for slow nodes) also slowed the
 * noticing of a frozen Redis; it defaults to that half still, and must stay
 * below the deadline, or a request whose PUBLISH hangs would be answered
 * without this node's own copy.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/config.ts';

const HOSTS = { hosts: { 'a.test': '/srv/a/app.php' } };
const REDIS = 'redis://127.0.0.1:6379';

function parsed(cluster: Record<string, unknown>): { config?: ReturnType<typeof parseConfig>; problems: string[] } {
  try {
    return { config: parseConfig({ ...HOSTS, cluster: { redis: REDIS, ...cluster } }, 'f.json', '/', () => undefined), problems: [] };
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return { problems: error.problems };
  }
}

describe('cluster.redisTimeout', () => {
  it('defaults to half the deadline', () => {
    assert.equal(parsed({}).config?.cluster?.redisTimeoutMs, 500);
    assert.equal(parsed({ deadline: 5 }).config?.cluster?.redisTimeoutMs, 2500);
  });

  it('takes a value of its own, in seconds, whatever the deadline', () => {
    const { config, problems } = parsed({ deadline: 5, redisTimeout: 0.5 });
    assert.deepEqual(problems, []);
    assert.equal(config?.cluster?.deadlineMs, 5000);
    assert.equal(config?.cluster?.redisTimeoutMs, 500);
  });

  it('refuses what is no positive number of seconds, naming the field', () => {
    for (const bad of [0, -1, '1', null, true]) {
      const { problems } = parsed({ redisTimeout: bad });
      assert.equal(problems.length, 1, `${JSON.stringify(bad)}: ${JSON.stringify(problems)}`);
      assert.match(problems[0]!, /^f\.json: cluster\.redisTimeout: expected a (positive )?number of seconds/);
    }
  });

  it('refuses one as long as the deadline or longer, naming both', () => {
    for (const [deadline, redisTimeout] of [[1, 1], [1, 2], [5, 2_147_483]]) {
      const { problems } = parsed({ deadline, redisTimeout });
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.match(problems[0]!, /^f\.json: cluster\.redisTimeout: expected less than the deadline \(\d+ s\)/);
    }
  });

  it('refuses one longer than a timer can wait with the bound', () => {
    const { problems } = parsed({ deadline: 10, redisTimeout: 30 * 24 * 3600 });
    assert.equal(problems.length, 1, JSON.stringify(problems));
    assert.match(problems[0]!, /^f\.json: cluster\.redisTimeout: expected at most 2147483 seconds/);
  });
});
