/**
 * Attack: unsigned requests to the Pusher HTTP API that bring a body. The
 * signature is over the query alone (the body is in it as body_md5), so a
 * request that is not signed is refused on its head: no unsigned peer gets
 * the gateway to wait for and hold up to maxBody of its body, nor keeps the
 * request open by trickling it.
 */
import assert from 'node:assert/strict';
import { connect as tcp } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serverSdk } from '../support/pusher.ts';
import type { TestApp } from '../support/pusher.ts';
import { FIXTURES, TARGET, startServer, targetAvailable } from '../support/server.ts';
import type { Started } from '../support/server.ts';

const skip = targetAvailable();
const APP: TestApp = { id: '42', key: 'test-key', secret: 'a-test-secret-of-32-characters!!' };

/** Sends a request head and the start of its body, never the rest; resolves with the status line, if one comes. */
function headOnly(port: number, head: string, bodyStart: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = tcp(port, '127.0.0.1');
    let got = '';
    socket.on('error', () => {});
    // The bound of the test, not its synchronisation: the answer is awaited; without one by then, there is none.
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer within 5 s (got ${JSON.stringify(got)})`);
    }, 5000);
    socket.on('data', (chunk: Buffer) => {
      got += chunk.toString('latin1');
      if (!got.includes('\r\n')) return;
      clearTimeout(timer);
      socket.destroy();
      resolve(got.slice(0, got.indexOf('\r\n')));
    });
    socket.write(head + bodyStart);
  });
}

describe(`Pusher API: unsigned requests on ${TARGET}`, { skip }, () => {
  let server: Started;
  before(async () => {
    server = await startServer({ config: { hosts: { 'shared.test': { module: join(FIXTURES, 'send-hooks.ts') } }, pusher: { apps: [APP] } } });
  });
  after(async () => {
    await server?.stop();
  });

  it('refuses a request that is not signed before its body has come (401), and one with the wrong key', async () => {
    const post = (query: string) => `POST /apps/${APP.id}/events?${query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n`;
    assert.equal(await headOnly(server.port, post('auth_key=test-key'), '{"name":"e",'), 'HTTP/1.1 401 Unauthorized');
    const now = Math.floor(Date.now() / 1000);
    assert.equal(await headOnly(server.port, post(`auth_key=other&auth_timestamp=${now}&auth_version=1.0&body_md5=${'0'.repeat(32)}&auth_signature=${'0'.repeat(64)}`), '{"name":"e",'), 'HTTP/1.1 401 Unauthorized');
    assert.equal(await headOnly(server.port, post(`auth_key=test-key&auth_timestamp=${now}&auth_version=1.0&body_md5=${'0'.repeat(32)}&auth_signature=${'0'.repeat(64)}`), '{"name":"e",'), 'HTTP/1.1 401 Unauthorized');
  });

  it('still takes a signed request, and refuses one whose body is not the one signed', async () => {
    const sdk = serverSdk(APP, server.port);
    assert.equal((await sdk.trigger('news', 'e', { n: 1 })).status, 200);
    const query = sdk.createSignedQueryString({ method: 'POST', path: `/apps/${APP.id}/events`, body: '{"name":"e","data":"1","channel":"news"}' });
    const response = await fetch(`http://127.0.0.1:${server.port}/apps/${APP.id}/events?${query}`, { method: 'POST', body: '{"name":"e","data":"2","channel":"news"}' });
    assert.equal(response.status, 401);
    assert.equal(await response.text(), 'body_md5 is not the MD5 of the body');
  });
});
