import { tracePanelsHtml, tracePanelsScript } from './trace-panel.js';

/** The status page: one HTML document that reads /api/status and /api/resolve (and the trace routes). */
export function statusPage(hostname: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Switchyard — ${hostname}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2433;background:#f5f6f8}
 header{background:#1d2433;color:#fff;padding:12px 24px;display:flex;gap:24px;align-items:baseline}
 header h1{font-size:18px;margin:0} header a{color:#9cc3ff}
 main{padding:16px 24px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(420px,1fr))}
 section{background:#fff;border-radius:6px;padding:12px 16px;box-shadow:0 1px 2px #0002}
 h2{font-size:15px;margin:0 0 8px} table{border-collapse:collapse;width:100%} td,th{text-align:left;padding:3px 6px;border-bottom:1px solid #eee;vertical-align:top;overflow-wrap:anywhere}
 .ok{color:#11772b} .bad{color:#b3261e} code{font-size:13px} button{cursor:pointer}
 #decision{white-space:pre-wrap;background:#f0f2f5;padding:8px;border-radius:4px;min-height:2em}
</style></head>
<body>
<header><h1>Switchyard</h1><span>${hostname}</span><span id="version">table …</span><span id="complete" data-testid="complete"></span><span id="stale" data-testid="stale"></span><a href="queues">job queues</a><a href="metrics">metrics</a></header>
<main>
 <section><h2>Address search</h2>
  <form id="search"><input id="address" name="address" size="36" placeholder="alice@contoso.edu" required>
  <label><input type="checkbox" id="trusted"> as a trusted client</label> <button type="submit">Resolve</button></form>
  <div id="decision" data-testid="decision"></div></section>
 <section><h2>Sources</h2><table id="sources"><thead><tr><th>source</th><th>objects</th><th>addresses</th><th>conflicts</th><th>last run</th><th>next run</th></tr></thead><tbody></tbody></table></section>
 <section><h2>Table versions</h2><table id="history"><thead><tr><th>version</th><th>published</th><th>cause</th><th></th></tr></thead><tbody></tbody></table></section>
 <section><h2>Mail queue</h2><table id="queue"><tbody></tbody></table></section>
 <section><h2>Skipped and held entries</h2><table id="entries"><thead><tr><th>source</th><th>entry</th><th>reason</th></tr></thead><tbody></tbody></table><div id="entry-counts"></div></section>
 <section><h2>Conflicts</h2><table id="conflicts"><thead><tr><th>address</th><th>winner</th><th>quarantined</th></tr></thead><tbody></tbody></table></section>
${tracePanelsHtml}
</main>
<script>
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;',"'":'&#39;'}[c]));
const rows = (id, html) => { document.querySelector('#' + id + ' tbody').innerHTML = html.join('') || '<tr><td colspan="6">none</td></tr>'; };
async function api(path, init) { const r = await fetch(path, init); const body = await r.json(); if (!r.ok) throw new Error(body.error || r.status); return body; }
async function refresh() {
  const s = await api('api/status');
  document.getElementById('version').textContent = s.table.tableVersion ? 'table version ' + s.table.tableVersion : 'no table published';
  const done = document.getElementById('complete');
  done.textContent = s.table.complete ? 'complete' : 'incomplete' + ((s.table.missingSources || []).length ? ': missing ' + s.table.missingSources.join(', ') + ' (451 for unknown recipients)' : '');
  done.className = s.table.complete ? 'ok' : 'bad';
  const stale = document.getElementById('stale');
  stale.textContent = (s.table.staleSources || []).length ? 'stale: ' + s.table.staleSources.join(', ') : '';
  stale.className = 'bad';
  const runs = s.runs || {};
  const next = Object.fromEntries((s.schedule || []).map((x) => [x.source, x]));
  rows('sources', s.table.sources.map((x) => { const r = runs[x.name]; const n = next[x.name] || {};
    return '<tr><td>' + esc(x.name) + '</td><td>' + esc(x.objects) + '</td><td>' + esc(x.addresses) + '</td><td>' + esc(x.conflicts) + '</td><td>' +
      (r ? '<span class="' + (r.ok ? 'ok' : 'bad') + '">' + esc(r.kind + ' ' + (r.ok ? 'ok' : 'failed') + ' ' + r.at) + '</span>' : '—') + '</td><td>' + (n.pinned ? '<span class="bad" data-testid="pinned">' + esc('paused since rollback to v' + n.pinned.version + ' (' + n.pinned.since + '): switchyard resume ' + x.name) + '</span>' : esc(n.nextRun || n.nextDelta || '—')) + '</td></tr>'; }));
  rows('history', s.table.history.slice(0, 50).map((v) => '<tr><td>' + v.version + '</td><td>' + esc(v.publishedAt) + '</td><td>' + esc(v.cause) + (v.source ? ' (' + esc(v.source) + ')' : '') + '</td><td>' +
    (v.version === s.table.tableVersion ? 'current' : '<button data-rollback="' + v.version + '">roll back to this</button>') + '</td></tr>'));
  rows('queue', Object.entries(s.queue).map(([k, v]) => '<tr><td>' + esc(k) + '</td><td>' + esc(v) + '</td></tr>'));
  const en = s.entries || { skipped: [], held: [], sourceReports: {} };
  rows('entries', en.held.map((e) => ['held', e]).concat(en.skipped.map((e) => ['skipped', e])).slice(0, 100).map(([w, e]) => '<tr><td>' + esc(e.source) + '</td><td>' + esc(w + ': ' + e.dn) + '</td><td>' + esc(e.reason) + '</td></tr>'));
  document.getElementById('entry-counts').textContent = Object.entries(en.sourceReports).map(([k, v]) => k + ': ' + v.skipped + ' skipped, ' + v.held + ' held, ' + v.notMailEnabled + ' not mail-enabled').join('; ');
  rows('conflicts', (s.conflicts || []).map((c) => '<tr><td>' + esc(c.address) + '</td><td>' + esc(c.winner.source + ': ' + c.winner.dn) + '</td><td>' + esc(c.quarantined.map((l) => l.source + ': ' + l.dn).join('; ')) + '</td></tr>'));
}
document.getElementById('search').addEventListener('submit', async (e) => {
  e.preventDefault();
  const q = new URLSearchParams({ address: document.getElementById('address').value, trusted: document.getElementById('trusted').checked ? '1' : '0' });
  const out = document.getElementById('decision');
  try { const d = await api('api/resolve?' + q); out.textContent = d.smtp + '\\n' + JSON.stringify(d, null, 2); out.dataset.action = d.action; }
  catch (err) { out.textContent = 'error: ' + err.message; }
});
document.getElementById('history').addEventListener('click', async (e) => {
  const to = e.target.dataset && e.target.dataset.rollback; if (!to) return;
  if (!confirm('Republish table version ' + to + '?')) return;
  try { const r = await api('api/rollback', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ to: Number(to) }) }); alert('published version ' + r.version); }
  catch (err) { alert('rollback failed: ' + err.message); }
  refresh();
});
refresh().catch((err) => { document.getElementById('version').textContent = 'status unavailable: ' + err.message; });
setInterval(() => refresh().catch(() => undefined), 5000);
${tracePanelsScript}
</script>
</body></html>`;
}
