import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics, utf8Length } from '../../src/ops/metrics.ts';

/** The value of one sample line, by its exact name and labels. */
const sample = (text: string, line: string): number | undefined => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
};

describe('Metrics', () => {
  it('counts upgrades, traffic, casts and hooks, and renders them as Prometheus text', () => {
    const m = new Metrics();
    m.upgrade('a.test', 'accepted');
    m.upgrade('a.test', 'accepted');
    m.upgrade('', 'refused', 'host_not_configured');
    const t = m.traffic('a.test');
    t.framesIn += 2;
    t.bytesIn += 10;
    m.cast('a.test', 'channel', 3);
    m.cast('a.test', 'channel', 0);
    m.hook('a.test', 'receive', 'resident', 0.003, true);
    m.hook('a.test', 'receive', 'resident', 0.2, false);
    const text = m.render([{ name: 'wsgate_sockets', help: 'Open sockets.', samples: [{ labels: { host: 'a.test' }, value: 4 }] }]);
    assert.match(text, /^# HELP wsgate_sockets Open sockets\.\n# TYPE wsgate_sockets gauge\nwsgate_sockets\{host="a\.test"\} 4\n/);
    assert.equal(sample(text, 'wsgate_upgrades_total{host="a.test",result="accepted",reason=""}'), 2);
    assert.equal(sample(text, 'wsgate_upgrades_total{host="",result="refused",reason="host_not_configured"}'), 1);
    assert.equal(sample(text, 'wsgate_frames_in_total{host="a.test"}'), 2);
    assert.equal(sample(text, 'wsgate_casts_total{host="a.test",kind="channel"}'), 2);
    assert.equal(sample(text, 'wsgate_deliveries_total{host="a.test",kind="channel"}'), 3);
    assert.equal(sample(text, 'wsgate_hook_runs_total{host="a.test",hook="receive",mode="resident",result="failed"}'), 1);
    const labels = 'host="a.test",hook="receive",mode="resident"';
    assert.equal(sample(text, `wsgate_hook_duration_seconds_bucket{${labels},le="0.001"}`), 0);
    assert.equal(sample(text, `wsgate_hook_duration_seconds_bucket{${labels},le="0.005"}`), 1);
    assert.equal(sample(text, `wsgate_hook_duration_seconds_bucket{${labels},le="0.25"}`), 2);
    assert.equal(sample(text, `wsgate_hook_duration_seconds_bucket{${labels},le="+Inf"}`), 2);
    assert.equal(sample(text, `wsgate_hook_duration_seconds_count{${labels}}`), 2);
    assert.ok(Math.abs(sample(text, `wsgate_hook_duration_seconds_sum{${labels}}`)! - 0.203) < 1e-9);
    assert.deepEqual(m.hookTotals(), { runs: 2, seconds: 0.203 });
    assert.equal(m.castTotal(), 2);
  });

  it('escapes label values', () => {
    const m = new Metrics();
    m.cast('a"b\\c\nd', 'all', 1);
    assert.match(m.render([]), /wsgate_casts_total\{host="a\\"b\\\\c\\nd",kind="all"\} 1/);
  });

  it('measures UTF-8 length without encoding', () => {
    for (const text of ['', 'plain', 'ü', '€uro', '😀 ok', '{"a":"日本"}']) assert.equal(utf8Length(text), new TextEncoder().encode(text).byteLength, text);
  });
});
