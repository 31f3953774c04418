/**
 * cluster.redis and WSGATE_REDIS_URL (src/config/redis-url.ts): one Redis, a
 * Sentinel group or a Redis Cluster, and the key prefix, from one URL;
 * passwords never in what is shown.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { busPrefix, clusterPrefix, parseRedisUrl, redactRedisUrl } from '../../src/config/redis-url.ts';
import { ConfigError, parseConfig } from '../../src/config/config.ts';

describe('the cluster\'s Redis URL', () => {
  it('names one instance, plain or TLS, as ioredis takes it', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379'), { kind: 'single', url: 'redis://127.0.0.1:6379' });
    assert.deepEqual(parseRedisUrl('rediss://:pw@redis.example.com:6380/2'), { kind: 'single', url: 'rediss://:pw@redis.example.com:6380/2' });
  });

  it('names one instance on this machine by its Unix socket, with the db and credentials in the query', () => {
    assert.deepEqual(parseRedisUrl('unix:///run/redis/redis.sock'), { kind: 'socket', path: '/run/redis/redis.sock' });
    assert.deepEqual(parseRedisUrl('unix:///var/run/my%20redis.sock?db=3&username=app&password=p%40ss&prefix=shop:'), {
      kind: 'socket',
      path: '/var/run/my redis.sock',
      db: 3,
      username: 'app',
      password: 'p@ss',
      prefix: 'shop:',
    });
    assert.equal(clusterPrefix('unix:///r.sock?prefix=a:', undefined), 'a:');
    assert.equal(busPrefix('unix:///r.sock', 'x:'), 'x:');
    assert.equal(redactRedisUrl('unix:///var/run/my%20redis.sock?db=3&password=secret&prefix=a:'), 'unix:///var/run/my%20redis.sock?db=3&password=***&prefix=a%3A');
    assert.equal(redactRedisUrl('unix:///r.sock'), 'unix:///r.sock');
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

  it('names a Redis Cluster: where to start, the credentials, TLS', () => {
    assert.deepEqual(parseRedisUrl('redis+cluster://127.0.0.1:7000,[::1]:7001,redis.example.com'), {
      kind: 'cluster',
      nodes: [{ host: '127.0.0.1', port: 7000 }, { host: '::1', port: 7001 }, { host: 'redis.example.com', port: 6379 }],
      tls: false,
    });
    assert.deepEqual(parseRedisUrl('rediss+cluster://app:p%40ss@10.0.0.1:7000/'), { kind: 'cluster', nodes: [{ host: '10.0.0.1', port: 7000 }], tls: true, username: 'app', password: 'p@ss' });
  });

  it('takes the key prefix from ?prefix= in every form, and leaves it out of the URL ioredis is given', () => {
    assert.deepEqual(parseRedisUrl('redis://127.0.0.1:6379/2?prefix=shop%3A'), { kind: 'single', url: 'redis://127.0.0.1:6379/2', prefix: 'shop:' });
    assert.deepEqual(parseRedisUrl('redis://h:1?family=6&prefix=a'), { kind: 'single', url: 'redis://h:1?family=6', prefix: 'a' });
    assert.deepEqual(parseRedisUrl('redis+sentinel://h:1/m?prefix=b:'), { kind: 'sentinel', sentinels: [{ host: 'h', port: 1 }], name: 'm', prefix: 'b:' });
    assert.deepEqual(parseRedisUrl('redis+cluster://h:1?prefix='), { kind: 'cluster', nodes: [{ host: 'h', port: 1 }], tls: false, prefix: '' });
    assert.equal(clusterPrefix('redis://h:1?prefix=a:', undefined), 'a:');
    assert.equal(clusterPrefix('redis://h:1?prefix=a:', 'b:'), 'b:');
    assert.equal(clusterPrefix('redis://h:1', undefined), 'wsgate:');
  });

  it('puts the bus of a Redis Cluster under one hash tag made of the prefix, and leaves other forms as they are', () => {
    assert.equal(busPrefix('redis://h:1', 'wsgate:'), 'wsgate:');
    assert.equal(busPrefix('redis+sentinel://h:1/m', 'x'), 'x');
    assert.equal(busPrefix('redis+cluster://h:1', 'wsgate:'), '{wsgate%3A}');
    // Pub/sub spans the databases: the bus of a database but 0 carries its number.
    assert.equal(busPrefix('redis://h:1/0', 'wsgate:'), 'wsgate:');
    assert.equal(busPrefix('redis://h:1/2', 'wsgate:'), 'wsgate:db2:');
    assert.equal(busPrefix('rediss://:pw@h:1?db=3&prefix=p:', 'p:'), 'p:db3:');
    assert.equal(busPrefix('unix:///r.sock?db=4', 'x:'), 'x:db4:');
    // Braces in the prefix cannot end the tag early, nor an empty prefix leave it empty (Redis would hash the whole key).
    assert.equal(busPrefix('redis+cluster://h:1', 'a}{b'), '{a%7D%7Bb}');
    assert.equal(busPrefix('redis+cluster://h:1', ''), '{%}');
  });

  it('says what is wrong with a URL it cannot use, quoting no password', () => {
    for (const [url, problem] of [
      ['http://127.0.0.1:6379', /expected a Redis URL such as "redis:\/\/127.0.0.1:6379", "unix:\/\/\/run\/redis\/redis.sock", "redis\+sentinel:.*" or "redis\+cluster:/],
      ['unix://relative/redis.sock', /expected a Unix socket URL such as "unix:\/\/\/run\/redis\/redis.sock"/],
      ['unix:///', /expected a Unix socket URL/],
      ['unix:///r.sock?db=two', /expected db as a number/],
      ['unix:///r.sock?password=secret-pw&tls=1', /unknown option "tls" in the Unix socket URL \(known: db, username, password, prefix\)/],
      ['unix:///r%zz.sock?password=secret-pw', /expected the socket's path percent-encoded/],
      ['redis+cluster://', /expected a Redis Cluster URL such as/],
      ['redis+cluster://a:0,b:1', /expected cluster nodes as host:port/],
      ['redis+cluster://:secret-pw@h:1?db=2', /unknown option "db" in the Redis Cluster URL \(known: prefix\)/],
      ['redis+cluster://u:secret-pw%zz@h:1', /expected the user and password percent-encoded/],
      ['redis+sentinel://:secret-pw%@h:1/m', /expected the user and password percent-encoded/],
      ['redis+sentinel://h:1/m%zz', /expected the master name percent-encoded/],
      ['redis+cluster://u:secret-pw@@', /expected a Redis Cluster URL such as/],
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
    assert.equal(redactRedisUrl('redis+cluster://:pw@h1:7000,h2:7001?prefix=p:'), 'redis+cluster://:***@h1:7000,h2:7001?prefix=p%3A');
    assert.equal(redactRedisUrl('rediss+cluster://u@h1:7000'), 'rediss+cluster://u@h1:7000');
    // An '@' left unencoded in a password stays in the password, not in the host it would be shown with.
    assert.deepEqual(parseRedisUrl('redis+cluster://u:p@ss@h:7000'), { kind: 'cluster', nodes: [{ host: 'h', port: 7000 }], tls: false, username: 'u', password: 'p@ss' });
    assert.equal(redactRedisUrl('redis+cluster://u:p@ss@h:7000'), 'redis+cluster://u:***@h:7000');
    assert.equal(redactRedisUrl('redis+sentinel://:p@ss:wd@h:1/m'), 'redis+sentinel://:***@h:1/m');
    // ioredis takes any of its options from a redis:// URL's query, the password too.
    assert.equal(redactRedisUrl('redis://127.0.0.1:6379/0?password=pw&prefix=p:'), 'redis://127.0.0.1:6379/0?password=***&prefix=p%3A');
    assert.equal(redactRedisUrl('rediss://u@h:6380?username=u&password=pw&sentinelPassword=spw'), 'rediss://u@h:6380?username=u&password=***&sentinelPassword=***');
  });

  it('is shown without a password given as an option of the one-instance URL, which ioredis takes too', () => {
    // ioredis reads every query option of a redis:// URL as a connection option: ?password= authenticates.
    assert.equal(redactRedisUrl('redis://10.0.0.2:6379?password=s3cret'), 'redis://10.0.0.2:6379?password=***');
    assert.equal(redactRedisUrl('rediss://u@10.0.0.2:6379/0?Password=s3cret&sentinelPassword=s3cret2&db=1&prefix=x:'), 'rediss://u@10.0.0.2:6379/0?Password=***&sentinelPassword=***&db=1&prefix=x%3A');
    assert.equal(redactRedisUrl('redis://:pw@h:1?password=s3cret'), 'redis://:***@h:1?password=***');
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
    const hosts = { 'a.test': { module: '/m.ts' } };
    assert.equal(parseConfig({ hosts, cluster: { redis: 'redis+cluster://h:7000?prefix=p:' } }, 'f.json', '/srv').cluster?.prefix, 'p:');
    assert.equal(parseConfig({ hosts, cluster: { redis: 'redis://h:1?prefix=p:', prefix: 'p:' } }, 'f.json', '/srv').cluster?.prefix, 'p:');
    assert.throws(() => parseConfig({ hosts, cluster: { redis: 'redis://h:1?prefix=p:', prefix: 'q:' } }, 'f.json', '/srv'), (error) => error instanceof ConfigError && /prefix differs from the one the redis URL gives/.test(error.problems.join('\n')));
  });
});
