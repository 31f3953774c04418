/**
 * GET /dashboard: one page, no build step, that polls /dashboard/data every
 * second: hosts, sockets and tokens, the resident pools, the nodes, a live
 * feed of connects, disconnects and hook failures, and small charts of casts
 * per second and hook latency over the last five minutes.
 */
import type { Context } from 'hono';

export const DASHBOARD_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wsgate dashboard</title>
<style>
  :root { --fg: #1d2330; --muted: #6b7385; --line: #e3e6ee; --accent: #2f6fde; --bad: #c23b3b; --ok: #2a8f4a; }
  * { box-sizing: border-box; }
  body { font: 14px/1.45 system-ui, sans-serif; color: var(--fg); margin: 0; background: #f6f7fb; }
  header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 1.1rem; margin: 0; }
  header .meta { color: var(--muted); }
  #state.up::before { content: "● "; color: var(--ok); }
  #state.down::before { content: "● "; color: var(--bad); }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(20rem, 1fr)); gap: 1rem; padding: 1rem 1.2rem; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem; min-width: 0; }
  section h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 0 0 .6rem; }
  .numbers { display: flex; gap: 1.5rem; flex-wrap: wrap; }
  .number b { display: block; font-size: 1.6rem; font-variant-numeric: tabular-nums; }
  .number span { color: var(--muted); }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: .25rem .4rem; border-bottom: 1px solid var(--line); }
  /* Headers and numbers stay on one line; names may break anywhere (an app path has no spaces), but keep a column wide enough to read. */
  th, td.n { white-space: nowrap; }
  td { overflow-wrap: anywhere; }
  td:first-child { min-width: 8rem; }
  th { color: var(--muted); font-weight: 500; }
  /* A narrow screen scrolls a table sideways rather than crushing its columns. */
  .scroll { overflow-x: auto; }
  /* Seven columns and an app path: the pools get a row of their own. */
  section.wide { grid-column: 1 / -1; }
  td.n, th.n { text-align: right; }
  #feed { list-style: none; margin: 0; padding: 0; max-height: 18rem; overflow-y: auto; font-family: ui-monospace, monospace; font-size: 12px; }
  #feed li { padding: .15rem 0; border-bottom: 1px solid var(--line); }
  #feed .connect { color: var(--ok); }
  #feed .disconnect { color: var(--muted); }
  #feed .hook-failed { color: var(--bad); }
  svg { width: 100%; height: 90px; display: block; }
  svg polyline { fill: none; stroke: var(--accent); stroke-width: 1.5; }
  .chart { margin-bottom: .6rem; }
  .chart span { color: var(--muted); }
  .empty { color: var(--muted); font-style: italic; }
</style>
</head>
<body>
<header><h1>wsgate</h1><span class="meta" id="about"></span><span class="meta" id="state">connecting…</span></header>
<main>
  <section>
    <h2>Now</h2>
    <div class="numbers">
      <div class="number"><b id="sockets">–</b><span>sockets</span></div>
      <div class="number"><b id="hostCount">–</b><span>hosts with sockets</span></div>
      <div class="number"><b id="workers">–</b><span>workers</span></div>
      <div class="number"><b id="streams">–</b><span>streams with history</span></div>
    </div>
  </section>
  <section>
    <h2>Last five minutes</h2>
    <div class="chart"><span>casts per second: <b id="castsNow">–</b></span><svg id="castsChart" viewBox="0 0 300 90" preserveAspectRatio="none"><polyline points=""/></svg></div>
    <div class="chart"><span>hook latency, ms (mean per second): <b id="hookNow">–</b></span><svg id="hookChart" viewBox="0 0 300 90" preserveAspectRatio="none"><polyline points=""/></svg></div>
  </section>
  <section>
    <h2>Hosts</h2>
    <div class="scroll"><table><thead><tr><th>host</th><th class="n">sockets</th><th class="n">tokens</th></tr></thead><tbody id="hosts"></tbody></table></div>
  </section>
  <section class="wide">
    <h2>Resident pools</h2>
    <div class="scroll"><table><thead><tr><th>app</th><th class="n">workers</th><th class="n">busy</th><th class="n">queued</th><th class="n">done</th><th class="n">failed</th><th class="n">recycled</th></tr></thead><tbody id="pools"></tbody></table></div>
  </section>
  <section>
    <h2>Nodes</h2>
    <div class="scroll"><table><thead><tr><th>node</th><th class="n">sockets</th><th>state</th></tr></thead><tbody id="nodes"></tbody></table></div>
  </section>
  <section>
    <h2>Live feed</h2>
    <ul id="feed"></ul>
  </section>
</main>
<script>
const $ = (id) => document.getElementById(id);
// The cursor is the feed's id and a number in it: numbers from another process (another node, or a restart) mean nothing here.
let feedId = '', after = 0;
const cell = (text, numeric) => { const td = document.createElement('td'); td.textContent = text; if (numeric) td.className = 'n'; return td; };
const rows = (body, list, empty, width) => {
  body.replaceChildren(...(list.length ? list.map((cells) => { const tr = document.createElement('tr'); tr.append(...cells); return tr; })
    : [(() => { const tr = document.createElement('tr'); const td = cell(empty); td.colSpan = width; td.className = 'empty'; tr.append(td); return tr; })()]));
};
const chart = (svg, values) => {
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? 300 / (values.length - 1) : 0;
  svg.querySelector('polyline').setAttribute('points', values.map((v, i) => (i * step).toFixed(1) + ',' + (88 - (v / max) * 84).toFixed(1)).join(' '));
};
const since = (ms) => { const s = Math.floor(ms / 1000); return s < 120 ? s + ' s' : s < 7200 ? Math.floor(s / 60) + ' min' : Math.floor(s / 3600) + ' h'; };
async function poll() {
  try {
    const res = await fetch('/dashboard/data?feed=' + encodeURIComponent(feedId) + '&after=' + after, { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const d = await res.json();
    $('state').textContent = 'live'; $('state').className = 'up';
    $('about').textContent = 'v' + d.version + ' on ' + d.runtime + ', up ' + since(d.now - d.started);
    $('sockets').textContent = d.sockets;
    $('hostCount').textContent = d.hosts.length;
    $('workers').textContent = d.workers + ' / ' + d.cap;
    $('streams').textContent = d.history.streams;
    rows($('hosts'), d.hosts.map((h) => [cell(h.host), cell(h.sockets, true), cell(h.tokens, true)]), 'no sockets', 3);
    rows($('pools'), Object.entries(d.pools).map(([app, p]) => [cell(app), cell(p.workers, true), cell(p.busy, true), cell(p.queued, true), cell(p.done, true), cell(p.failed, true), cell(p.recycled, true)]), 'no resident apps', 7);
    rows($('nodes'), d.nodes.map((n) => [cell(n.node), cell(n.sockets, true), cell(n.state)]), 'no nodes', 3);
    const casts = d.samples.map((s) => s.casts), hooks = d.samples.map((s) => s.hookMs);
    chart($('castsChart'), casts); chart($('hookChart'), hooks);
    $('castsNow').textContent = casts.length ? casts[casts.length - 1] : '–';
    $('hookNow').textContent = hooks.length ? hooks[hooks.length - 1].toFixed(1) : '–';
    const feed = $('feed');
    // Another feed answered with all it holds: appended, it would repeat or interleave events of two processes.
    if (d.feed !== feedId) { feedId = d.feed; after = 0; feed.replaceChildren(); }
    for (const e of d.events) {
      after = Math.max(after, e.seq);
      const li = document.createElement('li');
      li.className = e.kind.replace(' ', '-');
      li.textContent = new Date(e.at).toLocaleTimeString() + '  ' + e.kind + '  ' + e.host + (e.socket ? '  ' + e.socket : '') + (e.detail ? '  ' + e.detail : '');
      feed.prepend(li);
    }
    while (feed.children.length > 200) feed.lastChild.remove();
  } catch (error) {
    $('state').textContent = 'unreachable: ' + error.message; $('state').className = 'down';
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>`;

export const dashboardPage = (c: Context): Response => {
  c.header('Cache-Control', 'no-store');
  return c.html(DASHBOARD_PAGE);
};
