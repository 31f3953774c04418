/**
 * Resident hosts that run the same file share one pool, which took the last
 * host's settings: they must agree, and a config where they do not is
 * refused by `check`, `serve` and every reload, naming both hosts and the
 * setting. "The same file" is as the pools key it: by its real path, so a
 * symlink or a second path to it counts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/config.ts';
import type { ConfigIO } from '../../src/config/config.ts';

function problemsOf(input: unknown): string[] {
  try {
    parseConfig(input, 'f.json', '/');
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  return [];
}

/** loadConfig over a file whose paths resolve through `links` (a symlink's target) as realpath would. */
function load(file: unknown, links: Record<string, string>): Promise<unknown> {
  const io: ConfigIO = {
    readTextFile: async () => JSON.stringify(file),
    isFile: async () => true,
    cwd: () => '/etc/wsgate',
    realPath: async (path) => links[path] ?? path,
  };
  return loadConfig('w.json', io);
}

async function loadProblems(file: unknown, links: Record<string, string>): Promise<string[]> {
  try {
    await load(file, links);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error.problems;
  }
  return [];
}

describe('resident hosts sharing an app must agree on its pool settings', () => {
  it('names both hosts and each setting that differs, for the same path as written', () => {
    assert.deepEqual(problemsOf({ hosts: { a: { app: '/a.php', build: false }, b: { app: '/a.php', build: false, pool: { maxQueue: 5, writeAhead: false } } } }), [
      'f.json: hosts["b"].pool.maxQueue: 5 differs from hosts["a"]\'s 1000; both run /a.php, whose one pool takes one setting: give them the same',
      'f.json: hosts["b"].pool.writeAhead: false differs from hosts["a"]\'s true; both run /a.php, whose one pool takes one setting: give them the same',
    ]);
  });

  it('speaks of the settings in the units the file writes them in', () => {
    assert.deepEqual(problemsOf({ pool: { idle: 2 }, hosts: { a: { hooks: '/h.php', build: false }, b: { hooks: '/h.php', build: false, pool: { idle: 3, bootTimeout: 4 } } } }), [
      'f.json: hosts["b"].pool.idle: 3 differs from hosts["a"]\'s 2; both run /h.php, whose one pool takes one setting: give them the same',
      'f.json: hosts["b"].pool.bootTimeout: 4 differs from hosts["a"]\'s 30; both run /h.php, whose one pool takes one setting: give them the same',
    ]);
  });

  it('compares apps by their real path: a symlink to the same app is the same pool', async () => {
    const file = { hosts: { a: { app: '/srv/app.php', build: false }, b: { app: '/srv/link.php', build: false, pool: { maxJobs: 7 } } } };
    assert.deepEqual(await loadProblems(file, { '/srv/link.php': '/srv/app.php' }), [
      'w.json: hosts["b"].pool.maxJobs: 7 differs from hosts["a"]\'s 10000; both run /srv/app.php, whose one pool takes one setting: give them the same',
    ]);
  });

  it('refuses one file run as an app by one resident host and as a hooks file by another, as written and by real path', async () => {
    const hint = 'one file\'s resident workers run it one way: make both hosts "app", or one of them build: true';
    assert.deepEqual(problemsOf({ hosts: { a: { app: '/srv/f.php', build: false }, b: { hooks: '/srv/f.php', build: false } } }), [
      `f.json: hosts["b"].hooks: hosts["a"] runs /srv/f.php as an app; ${hint}`,
    ]);
    const linked = { hosts: { a: { app: '/srv/f.php', build: false }, b: { hooks: '/srv/link.php', build: false } } };
    assert.deepEqual(await loadProblems(linked, { '/srv/link.php': '/srv/f.php' }), [`w.json: hosts["b"].hooks: hosts["a"] runs /srv/f.php as an app; ${hint}`]);
    // One-shot, each run is its own process started the host's way: nothing is shared.
    assert.deepEqual(problemsOf({ hosts: { a: { app: '/srv/f.php', build: false }, b: { hooks: '/srv/f.php', build: true } } }), []);
  });

  it('refuses an `apps` or schedule entry that names a host\'s hooks file', () => {
    const hosts = { h: { hooks: '/srv/ws.php', build: true }, a: { app: '/srv/app.php', build: false } };
    const hint = 'is the hooks file of hosts["h"], not an app: name the app.php a job runs';
    assert.deepEqual(problemsOf({ hosts, apps: ['/srv/app.php', '/srv/ws.php'], schedule: [{ app: '/srv/ws.php', target: 'x::y', every: 60 }] }), [
      `f.json: apps[1]: /srv/ws.php ${hint}`,
      `f.json: schedule[0].app: /srv/ws.php ${hint}`,
    ]);
  });

  it('passes hosts that agree, hosts on different apps, and a one-shot host on the same app', async () => {
    const agree = { pool: { maxQueue: 9 }, hosts: { a: { app: '/srv/app.php', build: false }, b: { app: '/srv/link.php', build: false, pool: { maxQueue: 9 } } } };
    assert.deepEqual(await loadProblems(agree, { '/srv/link.php': '/srv/app.php' }), []);
    const apart = { hosts: { a: { app: '/srv/app.php', build: false }, b: { app: '/srv/other.php', build: false, pool: { maxJobs: 7 } } } };
    assert.deepEqual(await loadProblems(apart, {}), []);
    const oneshot = { pool: { maxJobs: 3 }, hosts: { a: { app: '/srv/app.php', build: false }, b: { app: '/srv/link.php', build: true } } };
    assert.deepEqual(await loadProblems(oneshot, { '/srv/link.php': '/srv/app.php' }), []);
  });
});
