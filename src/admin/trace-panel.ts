/**
 * The status page's trace panels (SPEC §11): trace search, mail per connector over the last
 * hour or day and queue depth as plain SVG charts, the last mail-flow test, the audit log.
 * HTML and script added to the page by src/admin/status-page.ts.
 */
export const tracePanelsHtml = `
 <style>#trace pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px;background:#f0f2f5;padding:6px;border-radius:4px}</style>
 <section><h2>Message trace</h2>
  <form id="trace-search"><select id="trace-kind"><option value="recipient">recipient</option><option value="sender">sender</option><option value="id">queue id</option><option value="messageId">Message-ID</option></select>
  <input id="trace-value" size="32" placeholder="bob@contoso.edu" required> <button type="submit">Trace</button></form>
  <div id="trace" data-testid="trace"></div></section>
 <section><h2>Mail per connector <select id="chart-range"><option value="hour">last hour</option><option value="day">last day</option></select></h2>
  <div id="charts" data-testid="charts"></div></section>
 <section><h2>Last mail-flow test</h2><div id="mailflow" data-testid="mailflow">—</div></section>
 <section><h2>Audit log</h2><table id="audit"><thead><tr><th>when</th><th>who</th><th>action</th><th>what</th><th>result</th></tr></thead><tbody></tbody></table></section>`;

/** Plain script (no library, no CDN): uses the page's `esc`, `rows` and `api`. */
export const tracePanelsScript = `
const COLORS = { accepted: '#1f6feb', delivered: '#11772b', deferred: '#c08a00', bounced: '#b3261e', ready: '#1f6feb', active: '#11772b', held: '#b3261e' };
function svgChart(title, buckets, lines) {
  const w = 400, h = 110, pad = 24;
  const max = Math.max(1, ...lines.flatMap(([, v]) => v));
  const x = (i) => pad + (buckets.length < 2 ? 0 : (i * (w - pad - 4)) / (buckets.length - 1));
  const y = (v) => h - 16 - (v * (h - 30)) / max;
  const paths = lines.map(([name, v]) => '<polyline fill="none" stroke-width="1.5" stroke="' + (COLORS[name] || '#555') + '" data-series="' + esc(name) + '" points="' + v.map((n, i) => x(i).toFixed(1) + ',' + y(n).toFixed(1)).join(' ') + '"/>').join('');
  const legend = lines.map(([name, v]) => '<tspan fill="' + (COLORS[name] || '#555') + '">' + esc(name) + ' ' + v.reduce((a, b) => a + b, 0) + '</tspan>').join('  ');
  return '<svg class="chart" role="img" aria-label="' + esc(title) + '" viewBox="0 0 ' + w + ' ' + h + '" width="100%"><text x="' + pad + '" y="11" font-size="11">' + esc(title) + ': ' + legend + '</text>' +
    '<text x="2" y="' + (y(max) + 4) + '" font-size="9">' + max + '</text><line x1="' + pad + '" x2="' + w + '" y1="' + (h - 16) + '" y2="' + (h - 16) + '" stroke="#ccc"/>' + paths + '</svg>';
}
async function refreshCharts() {
  const c = await api('api/charts?range=' + document.getElementById('chart-range').value);
  const byName = {};
  for (const [key, values] of Object.entries(c.series)) { const [name, what] = key.split('|'); (byName[name] = byName[name] || []).push([what, values]); }
  const names = Object.keys(byName).filter((n) => n !== 'queue').sort();
  const charts = names.map((n) => svgChart(n, c.buckets, byName[n]));
  if (byName.queue) charts.push(svgChart('queue depth', c.buckets, byName.queue));
  document.getElementById('charts').innerHTML = charts.join('') || 'no mail yet';
}
async function refreshTracePanels() {
  const [mf, audit] = await Promise.all([api('api/mailflow'), api('api/audit')]);
  const m = document.getElementById('mailflow');
  if (mf) { const bad = mf.checks.filter((c) => c.ok === false);
    m.innerHTML = '<span class="' + (mf.ok ? 'ok' : 'bad') + '">' + esc(new Date(mf.at).toISOString() + ': ' + (mf.ok ? 'all ' + mf.checks.length + ' checks hold' : bad.length + ' of ' + mf.checks.length + ' checks failed')) + '</span>' +
      bad.map((c) => '<div class="bad">' + esc(c.stage + ' ' + c.path + ': ' + c.observed) + '</div>').join(''); }
  rows('audit', audit.slice(-50).reverse().map((a) => '<tr><td>' + esc(new Date(a.at).toISOString()) + '</td><td>' + esc(a.who) + '</td><td>' + esc(a.action) + '</td><td>' + esc(a.what) + '</td><td>' + esc(a.result) + '</td></tr>'));
  await refreshCharts();
}
function eventLine(e) {
  const t = new Date(e.at).toISOString().slice(11, 23) + '  ';
  if (e.kind === 'rcpt') return t + 'rcpt <' + e.rcpt + '> ' + (e.action === 'route' ? 'routed to ' + e.hop + (e.recipient ? ' → ' + e.recipient : '') : 'refused: ' + e.reply);
  if (e.kind === 'received') return t + 'received from <' + e.from + '> client ' + e.client + ' helo ' + e.helo + (e.tls ? ' (TLS)' : '') + ', ' + e.size + ' bytes';
  if (e.kind === 'attempt') return e.results.map((r) => t + r.outcome + ' <' + r.rcpt + '> hop ' + e.hop + (r.host ? ' host ' + r.host : '') + ': ' + r.reply).join('\\n');
  if (e.kind === 'retry') return t + 'queued ' + e.rcpts.join(', ') + ' hop ' + e.hop + ': next retry ' + new Date(e.due).toISOString();
  if (e.kind === 'dsn') return t + 'dsn ' + e.action + ' for ' + e.rcpts.join(', ');
  if (e.kind === 'operator') return t + 'operator ' + e.who + ' queue ' + e.action + ' ' + e.uid;
  return t + 'session closed without a message (client ' + e.client + ')';
}
document.getElementById('trace-search').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = document.getElementById('trace');
  const q = new URLSearchParams({ [document.getElementById('trace-kind').value]: document.getElementById('trace-value').value });
  try { const found = await api('api/trace?' + q);
    out.innerHTML = found.length ? found.map((t) => '<div data-trace-id="' + esc(t.id) + '"><b>' + esc(t.id) + '</b><pre>' + esc(t.events.map(eventLine).join('\\n')) + '</pre></div>').join('') : 'no trace found'; }
  catch (err) { out.textContent = 'error: ' + err.message; }
});
document.getElementById('chart-range').addEventListener('change', () => refreshCharts().catch(() => undefined));
refreshTracePanels().catch(() => undefined);
setInterval(() => refreshTracePanels().catch(() => undefined), 15000);
`;
