import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config/config.ts';
import { compilePath, expandChannel, matchPath, pathProblem } from '../../src/config/paths.ts';

const routes = (spec: Record<string, string[]>) => Object.entries(spec).map(([template, channels]) => compilePath({ template, channels }));

describe('matchPath', () => {
  const table = routes({ '/websocket': [], '/ws/rooms/{room}': ['room:{room}', 'lobby'], '/ws/{org}/users/{user}': ['user:{org}/{user}'] });

  it('matches exact paths with no parameters and no channels', () => {
    assert.deepEqual(matchPath(table, '/websocket'), { params: undefined, channels: [] });
  });
  it('fills parameters from one segment each, decoded, and expands the channels with them', () => {
    assert.deepEqual(matchPath(table, '/ws/rooms/42'), { params: { room: '42' }, channels: ['room:42', 'lobby'] });
    assert.deepEqual(matchPath(table, '/ws/acme/users/ann%20b'), { params: { org: 'acme', user: 'ann b' }, channels: ['user:acme/ann b'] });
  });
  it('takes no path a route does not describe: empty or extra segments, other prefixes', () => {
    for (const path of ['/ws/rooms/', '/ws/rooms/1/2', '/ws/room/1', '/other', '/websocket/x']) assert.equal(matchPath(table, path), undefined, path);
  });
  it('treats regex characters in a template literally', () => {
    assert.equal(matchPath(routes({ '/a.b/{x}': [] }), '/aXb/1'), undefined);
    assert.deepEqual(matchPath(routes({ '/a.b/{x}': [] }), '/a.b/1')?.params, { x: '1' });
  });
  it('"*" takes any path, after exact paths and templates', () => {
    const any = routes({ '*': ['all'], '/ws/{id}': ['id:{id}'] });
    assert.deepEqual(matchPath(any, '/ws/7'), { params: { id: '7' }, channels: ['id:7'] });
    assert.deepEqual(matchPath(any, '/anything'), { params: undefined, channels: ['all'] });
  });
  it('leaves a placeholder it has no value for as written', () => assert.equal(expandChannel('a:{b}', {}), 'a:{b}'));
});

describe('pathProblem', () => {
  it('refuses channels that name a parameter the path lacks, repeated or malformed parameters', () => {
    assert.match(pathProblem({ template: '/ws/{room}', channels: ['user:{user}'] }) ?? '', /uses \{user\}, which the path does not have/);
    assert.match(pathProblem({ template: '/ws/{a}/{a}', channels: [] }) ?? '', /twice/);
    assert.match(pathProblem({ template: '/ws/{1x}', channels: [] }) ?? '', /written \{name\}/);
    assert.match(pathProblem({ template: 'ws', channels: [] }) ?? '', /starting with "\/"/);
    assert.equal(pathProblem({ template: '/ws/{room}', channels: ['room:{room}'] }), undefined);
  });
});

describe('paths in the config', () => {
  it('takes a list of paths or an object of templates with channels', () => {
    assert.deepEqual(parseConfig({ paths: ['/a', '*'], hosts: { a: '/a.php' } }, 'f.json', '/').paths, [
      { template: '/a', channels: [] },
      { template: '*', channels: [] },
    ]);
    assert.deepEqual(parseConfig({ paths: { '/ws/rooms/{room}': { channels: ['room:{room}'] }, '/websocket': {} }, hosts: { a: '/a.php' } }, 'f.json', '/').paths, [
      { template: '/ws/rooms/{room}', channels: ['room:{room}'] },
      { template: '/websocket', channels: [] },
    ]);
  });
  it('names the path and the problem', () => {
    try {
      parseConfig({ paths: { '/ws/{room}': { channels: ['x:{nope}'] } }, hosts: { a: '/a.php' } }, 'f.json', '/');
      assert.fail('expected a ConfigError');
    } catch (error) {
      assert.ok(error instanceof ConfigError);
      assert.deepEqual(error.problems, ['f.json: paths: "/ws/{room}": channel "x:{nope}" uses {nope}, which the path does not have']);
    }
  });
});
