/**
 * cluster.redis and WSGATE_REDIS_URL (src/config/redis-url.ts): one Redis, or
 * a Sentinel group, from one URL; passwords never in what is shown.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseRedisUrl, redactRedisUrl } from '../../src/config/redis-url.ts';
import { ConfigError, parseConfig } from '../../src/config/config.ts';

describe('the cluster\'s Redis URL', () => {
  it('names one instance, plain or TLS, as ioredis takes it', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), { kind: 'single', url: 'redis://127.0.0.1:6379' });
    assert.deepEqual(parseRedisUrl('rediss://:pw@redis.example.com:6380/2'), { kind: 'single', url: 'rediss://:pw@redis.example.com:6380/2' });
  });

  it('names a Sentinel group: its sentinels, the master\'s name, the master\'s credentials and the sentinels\' password', () => {
    assert.deepEqual(parseRedisUrl('redis+sentinel://127.0.0.1:26379,[::1]:26380,sentinel.example.com/mymaster'), {
      kind: 'sentinel',
      sentinels: [{ host: '127.0.0.1', port: 26379 }, { host: '::1', port: 26380 }, { host: 'sentinel.example.com', port: 26379 }],
      name: 'mymaster',
    });
    assert.deepEqual(parseRedisUrl('redis+sentinel://app:p%40ss@10.0.0.1:26379/main?sentinelPassword=s3cret'), {
      kind: 'sentinel',
      sentinels: [{ host: '10.0.0.1', port: 26379 }],
      name: 'main',
      username: 'app',
      password: 'p@ss',
      sentinelPassword: 's3cret',
    });
    assert.deepEqual(parseRedisUrl('redis+sentinel://:pw@h:1/m'), { kind: 'sentinel', sentinels: [{ host: 'h', port: 1 }], name: 'm', password: 'pw' });
  });

  it('says what is wrong with a URL it cannot use, quoting no password', () => {
    for (const [url, problem] of [
      ['http://127.0.0.1:6379', /expected a Redis URL such as "redis:\/\/127.0.0.1:6379", or "redis\+sentinel:/],
      ['redis+sentinel://127.0.0.1:26379', /expected a Sentinel URL such as/],
      ['redis+sentinel://a:99999/m', /expected sentinels as host:port/],
      ['redis+sentinel://:secret-pw@h:1/m?password=x', /unknown option "password" in the Sentinel URL/],
    ] as const) {
      const parsed = parseRedisUrl(url);
      assert.ok('problem' in parsed, url);
      assert.match(parsed.problem, problem);
      assert.doesNotMatch(parsed.problem, /secret-pw/);
    }
  });

  it('is shown without its passwords', () => {
    assert.equal(redactRedisUrl('redis://:pw@127.0.0.1:6379'), 'redis://:***@127.0.0.1:6379');
    assert.equal(redactRedisUrl('redis+sentinel://app:pw@h1:26379,h2:26380/main?sentinelPassword=s'), 'redis+sentinel://app:***@h1:26379,h2:26380/main?sentinelPassword=***');
    assert.equal(redactRedisUrl('redis+sentinel://h1:26379/main'), 'redis+sentinel://h1:26379/main');
  });

  it('is checked by the config, with the problem at cluster.redis', () => {
    assert.equal(parseConfig({ hosts: { 'a.test': { module: '/m.ts' } }, cluster: { redis: 'redis+sentinel://127.0.0.1:26379/mymaster' } }, 'f.json', '/srv').cluster?.redis, 'redis+sentinel://127.0.0.1:26379/mymaster');
    try {
      parseConfig({ hosts: { 'a.test': { module: '/m.ts' } }, cluster: { redis: 'redis+sentinel://127.0.0.1:26379' } }, 'f.json', '/srv');
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.match(error.problems.join('\n'), /^f\.json: cluster\.redis: expected a Sentinel URL such as/m);
    }
  });
});
