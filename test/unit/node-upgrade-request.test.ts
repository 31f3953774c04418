/** src/runtime/node-upgrade-request.ts: the light request an upgrade is routed with on Node. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import { Hono } from 'hono';
import { appForUpgrades, upgradeRequest } from '../../src/runtime/node-upgrade-request.ts';

describe('the light upgrade request', () => {
  it('is a GET Request of its URL and the very headers it was given', () => {
    const headers = new Headers({ host: 'a.test', cookie: 'token=t' });
    const request = upgradeRequest('http://localhost/websocket?wsgate=1', headers);
    assert.ok(request instanceof Request);
    assert.equal(request.method, 'GET');
    assert.equal(request.url, 'http://localhost/websocket?wsgate=1');
    assert.equal(request.headers, headers, 'no copy of the headers');
  });

  it('answers everything else a Request has from a real one, made once', async () => {
    const request = upgradeRequest('http://localhost/x', new Headers({ 'x-a': '1' }));
    assert.equal(request.signal.aborted, false);
    assert.equal(request.signal, request.signal, 'the same real Request each time');
    assert.equal(request.body, null);
    assert.equal(await request.text(), '');
    const copy = request.clone();
    assert.equal(copy.headers.get('x-a'), '1');
    assert.equal((request as unknown as { isHistoryNavigation: boolean }).isHistoryNavigation, false, 'every getter a Request has, not only the common ones');
    assert.match(inspect(request), /GET http:\/\/localhost\/x/);
  });

  it("is what the app routes when node-ws asks it for an upgrade's answer", async () => {
    const app = new Hono();
    app.get('/websocket', (c) => c.text(`${c.req.header('host')} ${c.req.query('wsgate')} ${c.req.raw instanceof Request}`));
    const response = await (appForUpgrades(app).request(new URL('http://localhost/websocket?wsgate=1'), { headers: new Headers({ host: 'a.test' }) }, {}) as Promise<Response>);
    assert.equal(await response.text(), 'a.test 1 true');
  });
});
