// The dashboard's single page (served by cli/dashboard_cmd.cpp). Plain HTML and
// JavaScript: polls /api/state every 2 s and draws the loss chart as inline SVG; nothing
// is loaded from anywhere else. Elements carry data-* attributes with the raw values so
// that tests/browser/dashboard.mjs can check them against the chain and the verdicts.
#pragma once

namespace tessera::cli {

inline constexpr const char* kDashboardPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Tessera subnet</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 24px; color: #222; background: #fafafa; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 24px 0 8px; }
  .meta { color: #666; font-size: 13px; }
  .row { display: flex; gap: 24px; flex-wrap: wrap; }
  .card { background: white; border: 1px solid #ddd; border-radius: 6px; padding: 12px 16px; }
  table { border-collapse: collapse; font-size: 13px; }
  th, td { padding: 4px 10px; text-align: right; border-bottom: 1px solid #eee; }
  th:first-child, td:first-child, td.text { text-align: left; }
  .scored { color: #2a7d2a; } .bad { color: #b03030; }
  details summary { cursor: pointer; }
  .why td { text-align: left; font-size: 12px; color: #444; }
  #error { color: #b03030; }
</style>
</head>
<body>
<h1>Tessera subnet <span id="netuid"></span></h1>
<div class="meta">block <span id="block">-</span> · last epoch <span id="epoch">-</span> · updated <span id="updated">-</span> <span id="error"></span></div>
<div class="row">
  <div class="card"><h2>Shared checkpoint: held-out loss per window</h2><svg id="loss-chart" width="640" height="300"></svg></div>
  <div class="card"><h2>Outcomes (all validators)</h2><table id="outcomes"><tbody></tbody></table>
    <div id="receipts-card" hidden><h2>Receipts at validators (metrics)</h2><table id="receipts"><tbody></tbody></table></div>
    <h2>Windows</h2><table id="windows"><thead><tr><th>window</th><th>loss</th><th>scored / judged</th><th>bytes</th><th>checkpoint</th></tr></thead><tbody></tbody></table></div>
</div>
<h2>Miners</h2>
<div class="card"><table id="miners"><thead><tr><th>uid</th><th>hotkey</th><th>scored / judged</th><th>last outcome</th><th>incentive</th><th>TAO earned</th><th>why (per window)</th></tr></thead><tbody></tbody></table></div>
<h2>Validators</h2>
<div class="card"><table id="validators"><thead><tr><th>uid</th><th>hotkey</th><th>stake TAO</th><th>dividends</th><th>TAO earned</th><th>verdicts served</th></tr></thead><tbody></tbody></table></div>
<script>
const esc = s => String(s).replace(/[&<>"']/g, c => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
const tao = x => x.toFixed(4);
function chart(windows) {
  const pts = windows.filter(w => w.loss !== null);
  const W = 640, H = 300, L = 56, R = 16, T = 16, B = 36;
  let svg = '';
  if (pts.length) {
    const xs = pts.map(p => p.window), ys = pts.map(p => p.loss);
    const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
    let y0 = Math.min(...ys), y1 = Math.max(...ys); const pad = Math.max(0.05, (y1 - y0) * 0.1); y0 -= pad; y1 += pad;
    const px = x => L + (W - L - R) * (x - x0) / (x1 - x0), py = y => T + (H - T - B) * (y1 - y) / (y1 - y0);
    for (let i = 0; i <= 4; i++) { const y = y0 + (y1 - y0) * i / 4;
      svg += `<line x1="${L}" x2="${W - R}" y1="${py(y)}" y2="${py(y)}" stroke="#eee"/><text x="${L - 6}" y="${py(y) + 4}" text-anchor="end" font-size="11">${y.toFixed(3)}</text>`; }
    svg += `<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="${pts.map(p => px(p.window) + ',' + py(p.loss)).join(' ')}"/>`;
    svg += pts.map(p => `<circle cx="${px(p.window)}" cy="${py(p.loss)}" r="3.5" fill="#1f77b4" data-window="${p.window}" data-loss="${p.loss}"><title>window ${p.window}: ${p.loss.toFixed(4)}</title></circle>`).join('');
    svg += `<text x="${L}" y="${H - 8}" font-size="11">window ${x0}</text><text x="${W - R}" y="${H - 8}" font-size="11" text-anchor="end">window ${x1}</text>`;
  } else {
    svg = `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#888">waiting for the first judged window…</text>`;
  }
  svg += `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#000"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#000"/>`;
  document.getElementById('loss-chart').innerHTML = svg;
}
function render(s) {
  document.getElementById('netuid').textContent = s.netuid;
  document.getElementById('block').textContent = s.block ?? '-';
  document.getElementById('epoch').textContent = s.last_epoch_block ?? '-';
  document.getElementById('updated').textContent = new Date(s.updated_ms || Date.now()).toLocaleTimeString();
  document.getElementById('error').textContent = s.error ? 'chain: ' + s.error : '';
  chart(s.windows);
  document.querySelector('#outcomes tbody').innerHTML = Object.entries(s.outcomes || {}).map(([k, n]) =>
    `<tr data-outcome="${esc(k)}"><td class="${k === 'scored' ? 'scored' : 'bad'}">${esc(k)}</td><td>${n}</td></tr>`).join('');
  const rc = s.receipts;
  document.getElementById('receipts-card').hidden = !rc;
  if (rc) document.querySelector('#receipts tbody').innerHTML =
    `<tr><td>validators answering</td><td data-answered="${rc.validators_answered}">${rc.validators_answered} / ${rc.validators_named}</td></tr>` +
    Object.entries(rc.accepted).map(([k, n]) => `<tr data-accepted="${esc(k)}" data-count="${n}"><td class="scored">accepted ${esc(k)}</td><td>${n}</td></tr>`).join('') +
    Object.entries(rc.refused).map(([k, n]) => `<tr data-refused="${esc(k)}" data-count="${n}"><td class="bad">${esc(k)}</td><td>${n}</td></tr>`).join('');
  document.querySelector('#windows tbody').innerHTML = s.windows.slice().reverse().map(w =>
    `<tr data-window="${w.window}"><td>${w.window}</td><td>${w.loss === null ? '-' : w.loss.toFixed(4)}</td><td>${w.scored} / ${w.judged}</td><td>${w.bytes}</td><td class="text">${esc(w.checkpoint.slice(0, 12))}…</td></tr>`).join('');
  const open = new Set([...document.querySelectorAll('#miners details[open]')].map(d => d.dataset.uid));
  document.querySelector('#miners tbody').innerHTML = s.miners.map(m =>
    `<tr data-uid="${m.uid}" data-earned="${m.earned_tao}" data-scored="${m.scored}" data-judged="${m.judged}">` +
    `<td>${m.uid}</td><td class="text">${esc(m.hotkey.slice(0, 12))}…</td><td>${m.scored} / ${m.judged}</td>` +
    `<td class="${m.last_outcome === 'scored' ? 'scored' : 'bad'}">${esc(m.last_outcome ?? '-')}</td>` +
    `<td>${m.incentive.toFixed(4)}</td><td class="earned">${tao(m.earned_tao)}</td>` +
    `<td class="text"><details data-uid="${m.uid}"${open.has(String(m.uid)) ? ' open' : ''}><summary>${m.history.length} judgements</summary>` +
    `<table class="why">${m.history.slice().reverse().map(h => `<tr data-window="${h.window}" data-outcome="${esc(h.outcome)}"><td>w${h.window}</td><td>v${h.validator_uid}</td><td class="${h.outcome === 'scored' ? 'scored' : 'bad'}">${esc(h.outcome)}</td><td>${esc(h.reason)}</td><td>score ${h.score.toFixed(4)}</td><td>${h.payload_bytes} B</td></tr>`).join('')}</table></details></td></tr>`).join('');
  document.querySelector('#validators tbody').innerHTML = s.validators.map(v =>
    `<tr data-uid="${v.uid}" data-earned="${v.earned_tao}"><td>${v.uid}${v.aggregator ? ' (aggregator)' : ''}</td><td class="text">${esc(v.hotkey.slice(0, 12))}…</td>` +
    `<td>${tao(v.stake_tao)}</td><td>${v.dividends.toFixed(4)}</td><td class="earned">${tao(v.earned_tao)}</td><td>${v.verdicts}</td></tr>`).join('');
}
async function refresh() {
  try { const r = await fetch('/api/state', {cache: 'no-store'}); render(await r.json()); }
  catch (e) { document.getElementById('error').textContent = 'dashboard unreachable'; }
}
refresh();
setInterval(refresh, 2000);
</script>
</body>
</html>
)HTML";

}  // namespace tessera::cli
