// The operators' dashboard: reads /api with the operator token kept in localStorage,
// draws the charts with the vendored Chart.js, and refreshes itself every 15 seconds.
"use strict";

const REFRESH_MS = 15000;
const TOKEN_KEY = "hub.operatorToken";
const charts = {};
const palette = ["#0b6bcb", "#e8710a", "#1e7b34", "#b3261e", "#7b3fbf", "#00838f", "#c2185b",
                 "#5d4037", "#546e7a", "#9e9d24"];

function token() { return localStorage.getItem(TOKEN_KEY); }

function askToken() {
  const dialog = document.getElementById("token-dialog");
  document.getElementById("token").value = token() || "";
  if (!dialog.open) dialog.showModal();
}

document.getElementById("token-form").addEventListener("submit", () => {
  localStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  refresh();
});
document.getElementById("change-token").addEventListener("click", askToken);
document.getElementById("range").addEventListener("change", () => refresh());

async function api(path) {
  const resp = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  if (resp.status === 401) { askToken(); throw new Error("the token was refused"); }
  if (!resp.ok) throw new Error(path + ": HTTP " + resp.status);
  return resp.json();
}

function bucketFor(range) { return range === "1h" ? "minute" : range === "30d" ? "day" : "hour"; }

function fmt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en"); }

function bytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB", "PB"];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  return (i ? n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0) : String(n)) + " " + units[i];
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;" })[c]);
}

// Exchanges refused before their client or service was known are logged with none.
const UNKNOWN = "(not identified)";
const name = (k) => (k === "" ? UNKNOWN : k);

function draw(id, config) {
  if (charts[id]) {
    charts[id].data = config.data;
    charts[id].update("none");
  } else {
    charts[id] = new Chart(document.getElementById(id), config);
  }
}

function tiles(s) {
  const rate = s.total ? ((s.failed / s.total) * 100).toFixed(2) + " %" : "–";
  const items = [["exchanges", fmt(s.total)], ["succeeded", fmt(s.succeeded)],
    ["failed", fmt(s.failed)], ["error rate", rate], ["p95 latency", fmt(s.latency_ms.p95) + " ms"],
    ["p95 hub-added", fmt(s.hub_ms.p95) + " ms"],
    ["data shared", bytes(s.request_bytes + s.response_bytes),
      `${fmt(s.request_bytes)} bytes sent to providers, ${fmt(s.response_bytes)} bytes returned`]];
  document.getElementById("tiles").innerHTML = items.map(([k, v, title]) =>
    `<div class="tile"${title ? ` title="${esc(title)}"` : ""}><b data-figure="${esc(k)}">` +
    `${esc(v)}</b><span>${esc(k)}</span></div>`).join("");
}

function volume(ts) {
  // The biggest groups get a colour each; past the palette, the rest are one "other" bar, so
  // every bar still adds up to the bucket's total.
  const many = ts.keys.length > palette.length;
  const keys = ts.keys.slice(0, many ? palette.length - 1 : palette.length);
  const datasets = keys.map((k, i) => ({ label: name(k), backgroundColor: palette[i],
    data: ts.points.map((p) => (p.groups || {})[k] || 0) }));
  if (many) {
    datasets.push({ label: `other (${ts.keys.length - keys.length})`, backgroundColor: "#9aa5b1",
      data: ts.points.map((p, j) => p.total - datasets.reduce((n, d) => n + d.data[j], 0)) });
  }
  document.getElementById("volume-zone").textContent = "times in " + ts.timezone;
  draw("volume", {
    type: "bar",
    data: { labels: ts.points.map((p) => p.label), datasets },
    options: { animation: false, responsive: true, scales: { x: { stacked: true },
      y: { stacked: true, beginAtZero: true } } },
  });
}

function latency(s) {
  const qs = ["p50", "p95", "p99"];
  draw("latency", {
    type: "bar",
    data: { labels: qs, datasets: [
      { label: "whole exchange", backgroundColor: palette[0], data: qs.map((q) => s.latency_ms[q]) },
      { label: "added by the hub", backgroundColor: palette[1], data: qs.map((q) => s.hub_ms[q]) },
    ] },
    options: { animation: false, responsive: true, scales: { y: { beginAtZero: true } } },
  });
}

function errors(s) {
  // The hub's fault codes, then the failed answers the provider made itself (a 404 "no
  // data"): together, every failed exchange of the range.
  const entries = Object.entries(s.by_fault).concat(
    Object.entries(s.provider_failed || {}).map(([status, n]) => [`provider ${status}`, n]));
  draw("errors", {
    type: "bar",
    data: { labels: entries.map(([k]) => k), datasets: [{ label: "exchanges",
      backgroundColor: palette[3], data: entries.map(([, v]) => v) }] },
    options: { animation: false, indexAxis: "y", responsive: true,
      plugins: { legend: { display: false } } },
  });
}

function matrix(m) {
  const max = Math.max(1, ...m.cells.map((c) => c.count));
  const at = {};
  m.cells.forEach((c) => { at[c.client + "\u0000" + c.provider] = c; });
  const head = "<tr><th>client \\ provider</th>" +
    m.providers.map((p) => `<th class="num">${esc(name(p))}</th>`).join("") + "</tr>";
  const rows = m.clients.map((client) => "<tr><th>" + esc(name(client)) + "</th>" + m.providers.map((p) => {
    const c = at[client + "\u0000" + p];
    if (!c) return '<td class="cell">·</td>';
    const alpha = (0.12 + 0.88 * Math.sqrt(c.count / max)).toFixed(2);
    const fg = alpha > 0.55 ? "#fff" : "#1d2733";
    return `<td class="cell" title="${c.failed} failed" style="background: rgba(11,107,203,${alpha});` +
      ` color: ${fg}">${fmt(c.count)}</td>`;
  }).join("") + "</tr>").join("");
  document.getElementById("matrix").innerHTML = m.cells.length ?
    `<table>${head}${rows}</table>` : "<p>No exchanges in this range.</p>";
}

function health(h) {
  const rows = h.providers.map((p) => {
    const reach = p.reachable === null ? '<span class="unknown">not checked</span>' :
      p.reachable ? '<span class="ok">reachable</span>' : `<span class="bad">down</span>`;
    const rate = p.error_rate === null ? "–" : (p.error_rate * 100).toFixed(1) + " %";
    return `<tr><td>${esc(p.provider)}</td><td>${reach}</td><td class="num">${fmt(p.exchanges)}</td>` +
      `<td class="num">${rate}</td><td>${esc(p.circuit)}</td></tr>`;
  }).join("");
  const share = h.connection_rate === null ? "–" : (h.connection_rate * 100).toFixed(0) + " %";
  document.getElementById("health").innerHTML =
    `<p>Connection rate: <b id="connection-rate">${share}</b> (${h.reachable} of ${h.registered} ` +
    `providers reachable)</p><table><tr><th>provider</th><th>state</th>` +
    `<th class="num">exchanges (${h.window_minutes} min)</th><th class="num">5xx rate</th>` +
    `<th>circuit</th></tr>${rows}</table>`;
}

async function refresh() {
  const status = document.getElementById("status");
  if (!token()) { askToken(); return; }
  const since = document.getElementById("range").value;
  const q = "since=" + encodeURIComponent(since);
  try {
    const providers = api("/api/health/providers");
    // The chart's buckets are whole local hours or days, so its range starts at the first
    // one's edge; the tiles and the matrix count from that same instant, so that they add
    // up to the bars (with "30d" alone they started mid-day and counted fewer).
    const ts = await api(`/api/stats/timeseries?${q}&bucket=${bucketFor(since)}&group_by=provider`);
    const same = "since=" + encodeURIComponent(ts.since);
    const [s, m, h] = await Promise.all([
      api("/api/stats/summary?" + same),
      api("/api/stats/matrix?" + same),
      providers,
    ]);
    tiles(s); volume(ts); latency(s); errors(s); matrix(m); health(h);
    status.className = "";
    status.textContent = "updated " + new Date().toLocaleTimeString();
    document.body.dataset.loaded = "yes";
  } catch (err) {
    status.className = "error";
    status.textContent = String(err.message || err);
  }
}

refresh();
setInterval(refresh, REFRESH_MS);
