// The operators' dashboard: reads /api with the operator token kept in localStorage,
// draws the charts with the vendored Chart.js, and refreshes itself every 15 seconds.
"use strict";

const REFRESH_MS = 15000;
const TOKEN_KEY = "hub.operatorToken";
const charts = {};
const palette = ["#0b6bcb", "#e8710a", "#1e7b34", "#b3261e", "#7b3fbf", "#00838f", "#c2185b",
                 "#5d4037", "#546e7a", "#9e9d24"];

function token() { return localStorage.getItem(TOKEN_KEY); }

// The dialog was closed without a token saved (Cancel, Escape): the refreshes leave it
// closed, and the status says to press Token; it opened again over the figures every 15 s.
let dismissed = false;

// Says why in the dialog; fills the field only when it opens, so that a refresh every 15
// seconds never wipes what the operator is typing. `pressed`: the operator asked for it.
function askToken(why, pressed) {
  const dialog = document.getElementById("token-dialog");
  document.getElementById("token-error").textContent = why || "";
  if (dialog.open || (dismissed && !pressed)) return;
  document.getElementById("token").value = token() || "";
  dialog.showModal();
}

document.getElementById("token-form").addEventListener("submit", () => {
  localStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
  document.getElementById("token-error").textContent = "";
  dismissed = false;
  refresh();
});
// Not askToken itself: the click event would be taken for the reason and shown as one.
document.getElementById("change-token").addEventListener("click", () => askToken("", true));
document.getElementById("token-cancel").addEventListener("click", () => {
  dismissed = true;
  document.getElementById("token-dialog").close();
});
document.getElementById("token-dialog").addEventListener("cancel", () => { dismissed = true; });
document.getElementById("range").addEventListener("change", () => refresh());
document.getElementById("matrix-csv").addEventListener("click", () => saveCsv("matrix"));
document.getElementById("volume-csv").addEventListener("click", () => saveCsv("volume"));

const REFUSED = "the hub refused the operator token: press Token to change it";

// What a token can hold; fetch refuses a header with anything else, before asking the hub.
const TOKEN_CHARS = /^[!-~]+$/;

async function api(path) {
  if (!TOKEN_CHARS.test(token())) {
    askToken("That token holds characters no token has (a space, an accent, a typographic " +
      "dash or quote); paste it again.");
    throw new Error("the operator token is not valid: press Token to change it");
  }
  let resp;
  try {
    resp = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
  } catch (err) {
    throw new Error("the hub did not answer (" + (err.message || err) + ")");
  }
  if (resp.status === 401) {
    askToken("The hub refused that token; enter the operator (or admin) token.");
    throw new Error(REFUSED);
  }
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    throw new Error(`${path.split("?")[0]}: HTTP ${resp.status}` +
      (typeof body.detail === "string" ? ": " + body.detail : ""));
  }
  return resp.json();
}

function bucketFor(range) { return range === "1h" ? "minute" : range === "30d" ? "day" : "hour"; }

function fmt(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en"); }

// Three significant digits at most (18.8 ms, 0.357 ms, 5,100 ms): the percentiles come from
// histograms, and "18.829 ms" wrapped its tile to two lines.
function ms(n) {
  if (n === null || n === undefined) return "–";
  const digits = n < 1 ? 3 : n < 10 ? 2 : n < 100 ? 1 : 0;
  return Number(n).toLocaleString("en", { maximumFractionDigits: digits }) + " ms";
}

// Three significant digits, rounded before the unit is chosen: 999,999 bytes read
// "1000 kB" and 99,950 "100.0 kB".
function bytes(n) {
  const units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
  let i = 0;
  while (Number(n.toPrecision(3)) >= 1000 && i < units.length - 1) { n /= 1000; i += 1; }
  if (!i) return String(n) + " B";
  const shown = Number(n.toPrecision(3));
  return shown.toFixed(shown < 10 ? 2 : shown < 100 ? 1 : 0) + " " + units[i];
}

// A share as a percentage to `digits` places, never rounded to none or to all: "0.00 %"
// read as no failure beside "3 failed" ("< 0.01 %"), and "100 %" as every provider
// reachable with 249 of 250 ("> 99 %").
function percent(share, digits) {
  if (share === null || share === undefined) return "–";
  const text = (share * 100).toFixed(digits);
  const step = 10 ** -digits;
  if (share > 0 && Number(text) === 0) return `< ${step.toFixed(digits)} %`;
  if (share < 1 && Number(text) === 100) return `> ${(100 - step).toFixed(digits)} %`;
  return text + " %";
}

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;" })[c]);
}

// Exchanges refused before their client or service was known are logged with none.
const UNKNOWN = "(not identified)";
const name = (k) => (k === "" ? UNKNOWN : k);

// A client or provider as a header or cell shows it: the registry's name (answers carry
// `names`, id -> name, for the ids that have one) above its id; the id alone without one.
function label(id, names) {
  const known = (names || {})[id];
  return (known ? `<span class="name">${esc(known)}</span>` : "") +
    `<span class="id">${esc(name(id)).replace(/\//g, "/<wbr>")}</span>`;  // wraps at its slashes
}

// The attributes of an element labelled so: its id for scripts, both whole in a tooltip.
function labelled(id, names) {
  const known = (names || {})[id];
  return ` data-id="${esc(id)}"` + (known ? ` title="${esc(known + "\n" + id)}"` : "");
}

// A legend entry drawn on the canvas cannot wrap: a long name is cut to what the chart's
// width holds (about 7.5 px a character), and its tooltip has it whole.
function fit(text, width) {
  const most = Math.max(16, Math.floor((width - 40) / 7.5));
  return text.length > most ? text.slice(0, most - 1).trimEnd() + "…" : text;
}

// A chart with nothing to draw is not shown: under "No exchanges in this range." its bare
// axes (latency 1 to 10 ms, faults 0 to 1) read as figures missing.
function shown(id, any) {
  document.getElementById(id + "-empty").hidden = any;
  document.getElementById(id).parentElement.hidden = !any;
}

// Every chart fills its box (.chart in the page's CSS) rather than keep an aspect ratio,
// and writes its numbers as the tiles and tables do ("1,200"): in the browser's locale, a
// Vietnamese one wrote "1.200" on the axes beside "81.5 ms" and "100,000" in the tiles.
function draw(id, config) {
  config.options.maintainAspectRatio = false;
  config.options.locale = "en";
  if (charts[id]) {
    // A series hidden by a click on its legend entry stays hidden: the new datasets are new
    // objects, which Chart.js showed again at every refresh.
    const chart = charts[id];
    const hidden = new Set(chart.data.datasets.filter((d, i) => !chart.isDatasetVisible(i))
      .map(series));
    config.data.datasets.forEach((d) => { if (hidden.has(series(d))) d.hidden = true; });
    charts[id].data = config.data;
    charts[id].options = config.options;  // a new range can bring a new unit
    charts[id].update("none");
  } else {
    charts[id] = new Chart(document.getElementById(id), config);
  }
}

// What a dataset is of, from one refresh to the next: its provider's id (its label is the
// registry's name, which can change), else its label.
function series(d) { return d.key === undefined ? d.label : d.key; }

// The "other" bar's key: no id holds a NUL character (the hub refuses them), and its label
// changes with how many groups it holds.
const OTHER = "\u0000other";

function tiles(s) {
  const rate = s.total ? percent(s.failed / s.total, 2) : "–";
  const items = [["exchanges", fmt(s.total)], ["succeeded", fmt(s.succeeded)],
    ["failed", fmt(s.failed)], ["error rate", rate], ["p95 latency", ms(s.latency_ms.p95)],
    ["p95 hub-added", ms(s.hub_ms.p95)],
    ["data shared", bytes(s.request_bytes + s.response_bytes),
      `${fmt(s.request_bytes)} bytes sent to providers, ${fmt(s.response_bytes)} bytes returned`]];
  // A figure too long for its tile wraps after a group's comma, not inside a number.
  document.getElementById("tiles").innerHTML = items.map(([k, v, title]) =>
    `<div class="tile"${title ? ` title="${esc(title)}"` : ""}><b data-figure="${esc(k)}">` +
    `${esc(v).replace(/,/g, ",<wbr>")}</b><span>${esc(k)}</span></div>`).join("");
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// A bucket as a tooltip and a screen reader say it: "5 Dec 00:00" ("05-12" read as 12 May
// to anyone used to month-day); a day, month or year as the hub labels it.
function dated(label) {
  const [date, time] = label.split("T");
  if (time === undefined) return label;
  return `${Number(date.slice(8, 10))} ${MONTHS[Number(date.slice(5, 7)) - 1]} ${time}`;
}

// Minutes between two labels of the time axis, the fewest that leave room for each.
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 240, 360, 720, 1440, 2880, 10080];

// The time axis's labels for a chart `width` px wide: "" for the buckets left unlabelled.
// Chart.js would skip labels by itself, and skipped the ones carrying the date: a week
// read "1 Dec 02:00", then "02:00" seven times. So the labels kept are those on a round
// time of the clock ("00:00", "06:00"), and the first of each day says its date.
function axisLabels(labels, bucket, width) {
  const minutes = bucket === "minute" ? 1 : 60;
  const room = Math.max(width - 60, 1) / Math.max(labels.length, 1);  // px a bucket
  // 22 px a label: at the axis' slant (50 degrees at most) a label's height and some air.
  const step = STEPS.find((s) => s >= minutes && (s / minutes) * room >= 22) || 10080;
  let day = null;
  return labels.map((label) => {
    const [date, time] = label.split("T");
    const clock = Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));
    const days = Date.UTC(date.slice(0, 4), date.slice(5, 7) - 1, date.slice(8, 10)) / 864e5;
    const round = step <= 1440 ? clock % step === 0 : clock === 0 && days % (step / 1440) === 0;
    if (!round) return "";
    const shown = date === day ? time : dated(label);
    day = date;
    return shown;
  });
}

// A grid line where the axis writes a label, none between: a line for each of 1 to 9 of
// every decade, or for every hour of a week, greyed the bars out.
function labelledLine(c) {
  return c.tick && c.tick.label ? Chart.defaults.borderColor : "transparent";
}

function volume(ts) {
  // The biggest groups get a colour each; past the palette, the rest are one "other" bar, so
  // every bar still adds up to the bucket's total.
  const many = ts.keys.length > palette.length;
  const keys = ts.keys.slice(0, many ? palette.length - 1 : palette.length);
  const names = ts.names || {};
  const datasets = keys.map((k, i) => ({ label: names[k] || name(k), key: k,
    backgroundColor: palette[i], data: ts.points.map((p) => (p.groups || {})[k] || 0) }));
  if (many) {
    datasets.push({ label: `other (${ts.keys.length - keys.length})`, key: OTHER,
      backgroundColor: "#9aa5b1",
      data: ts.points.map((p, j) => p.total - datasets.reduce((n, d) => n + d.data[j], 0)) });
  }
  document.getElementById("volume-zone").textContent = "times in " + ts.timezone;
  // Read out by screen readers, as the latency and error charts say theirs: the range's
  // total and its busiest bucket, dated ("7 Dec 09:00": the axis dates only a day's first).
  const totals = ts.points.map((p) => p.total);
  const most = Math.max(0, ...totals);
  const busiest = most ? dated(ts.points[totals.indexOf(most)].label) : "";
  document.getElementById("volume").setAttribute("aria-label", `Exchanges per ${ts.bucket}, ` +
    "by provider: " + (most ? `${fmt(totals.reduce((a, b) => a + b, 0))} in all, most at ` +
    `${busiest} (${fmt(most)})` : "none"));
  shown("volume", ts.points.some((p) => p.total > 0));
  const labels = ts.points.map((p) => p.label);
  const timed = labels.some((l) => l.includes("T"));  // minutes and hours; days are dates
  let axis = { width: null, labels: [] };  // drawn for a width, until the chart is resized
  draw("volume", {
    type: "bar",
    data: { labels: labels.map(dated), datasets },
    options: { animation: false, responsive: true, plugins: {
      legend: { labels: { boxWidth: 12, generateLabels: (chart) =>
        Chart.defaults.plugins.legend.labels.generateLabels(chart).map((item) =>
          Object.assign(item, { text: fit(item.text, chart.width) })) } },
      // The whole name, and the id under it, of the bar pointed at.
      tooltip: { callbacks: { label: (item) => {
        const line = `${item.dataset.label}: ${item.formattedValue}`;
        return names[item.dataset.key] ? [line, item.dataset.key] : line;
      } } } },
      scales: { x: { stacked: true, ticks: timed ? { autoSkip: false, callback(value, i) {
        if (axis.width !== this.chart.width) {
          axis = { width: this.chart.width, labels: axisLabels(labels, ts.bucket, this.chart.width) };
        }
        return axis.labels[i];
      } } : {},
      // A line for each label, not for every bucket: 169 lines a week greyed the bars out.
      grid: timed ? { color: labelledLine } : {} },
      y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
        title: { display: true, text: "exchanges per " + ts.bucket } } } },
  });
}

// Chart.js labels 1 to 9 of every decade, a few pixels apart at 60, 80, 100: the labels
// kept are 1, 2 and 5 of each decade where those have room, else its power of ten alone
// (every second or third one over very many decades).
function logTick(v) {
  const power = Math.floor(Math.log10(v) + 1e-9);
  const mantissa = v / 10 ** power;
  const perDecade = this.height / Math.max(Math.log10(this.max / this.min), 1e-9);
  const shown = perDecade * Math.log10(2) >= 16 ? [1, 2, 5] : [1];
  const every = Math.ceil(16 / Math.max(perDecade, 1e-9));
  const keep = shown.some((m) => Math.abs(mantissa - m) < 1e-6) && power % every === 0;
  return keep ? v.toLocaleString("en", { maximumSignificantDigits: 3 }) : "";
}

function latency(s) {
  const qs = ["p50", "p95", "p99"];
  shown("latency", s.total > 0);
  draw("latency", {
    type: "bar",
    data: { labels: qs, datasets: [
      { label: "whole exchange", backgroundColor: palette[0], data: qs.map((q) => s.latency_ms[q]) },
      { label: "added by the hub", backgroundColor: palette[1], data: qs.map((q) => s.hub_ms[q]) },
    ] },
    // Logarithmic: a few timeouts put p99 in seconds, and on a linear axis p50 (a
    // millisecond) was no bar at all.
    options: { animation: false, responsive: true,
      // With its unit: the tooltip said "whole exchange: 0.8", the "ms" only on the axis.
      plugins: { tooltip: { callbacks: {
        label: (item) => `${item.dataset.label}: ${ms(item.parsed.y)}` } } },
      scales: { y: { type: "logarithmic", title: { display: true, text: "ms" },
        ticks: { autoSkip: false, callback: logTick }, grid: { color: labelledLine } } } },
  });
  document.getElementById("latency").setAttribute("aria-label", "Latency percentiles: " +
    qs.map((q) => `${q} ${ms(s.latency_ms[q])} (hub ${ms(s.hub_ms[q])})`).join(", "));
}

// How wide the widest of `texts` is in the charts' font, in px.
function widest(texts) {
  const ctx = document.createElement("canvas").getContext("2d");
  ctx.font = Chart.helpers.toFont(Chart.defaults.font).string;
  return Math.max(0, ...texts.map((t) => ctx.measureText(t).width));
}

function errors(s) {
  // The hub's fault codes, then the failed answers the provider made itself (a 404 "no
  // data"): together, every failed exchange of the range.
  const entries = Object.entries(s.by_fault).concat(
    Object.entries(s.provider_failed || {}).map(([status, n]) => [`provider ${status}`, n]));
  shown("errors", entries.length > 0);
  // Chart.js gives the codes half the chart's width at most, and cut the rest at the card's
  // edge ("erver.ServiceUnavailable" at 375 px): where the longest does not fit, each code
  // takes two lines, broken after its dot ("Server." over "ServiceUnavailable").
  const box = document.getElementById("errors-box");
  const split = box.clientWidth / 2 < widest(entries.map(([k]) => k)) + 20;
  const lines = (k) => (split ? k.split(/(?<=\.)/) : k);
  // A line of its own for each code (they were written over one another on a phone).
  box.style.height = Math.max(200, 70 + (split ? 36 : 24) * entries.length) + "px";
  draw("errors", {
    type: "bar",
    data: { labels: entries.map(([k]) => lines(k)), datasets: [{ label: "exchanges",
      backgroundColor: palette[3], data: entries.map(([, v]) => v) }] },
    // Every code keeps its label (Chart.js would skip every other one in a narrow card).
    options: { animation: false, indexAxis: "y", responsive: true,
      scales: { x: { beginAtZero: true, ticks: { precision: 0 },
        title: { display: true, text: "failed exchanges" } }, y: { ticks: { autoSkip: false } } },
      // The tooltip names the code on one line, as the hub writes it.
      plugins: { legend: { display: false }, tooltip: { callbacks: {
        title: (items) => items.map((item) => entries[item.dataIndex][0]) } } } },
  });  // Read out by screen readers, as the bars show them.
  document.getElementById("errors").setAttribute("aria-label", "Failed exchanges by code" +
    (entries.length ? ": " + entries.map(([k, v]) => `${k} ${fmt(v)}`).join(", ") : ": none"));
}

const HEAT = [11, 107, 203];

// Relative luminance of an sRGB colour (WCAG 2).
function luminance(rgb) {
  const [r, g, b] = rgb.map((c) => {
    const v = c / 255;
    return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function matrix(m) {
  const max = Math.max(1, ...m.cells.map((c) => c.count));
  const at = {};
  m.cells.forEach((c) => { at[c.client + "\u0000" + c.provider] = c; });
  const head = '<thead><tr><th scope="col">client \\ provider</th>' + m.providers.map((p) =>
    `<th scope="col" class="num"${labelled(p, m.names)}>${label(p, m.names)}</th>`).join("") +
    "</tr></thead>";
  const rows = m.clients.map((client) => `<tr><th scope="row"${labelled(client, m.names)}>` +
    label(client, m.names) + "</th>" +
    m.providers.map((p) => {
    const c = at[client + "\u0000" + p];
    if (!c) return '<td class="cell">·</td>';
    const alpha = (0.12 + 0.88 * Math.sqrt(c.count / max)).toFixed(2);
    // Its failures written under the count, not only in a tooltip no phone or keyboard shows.
    return `<td class="cell" title="${fmt(c.failed)} failed" data-alpha="${alpha}">${fmt(c.count)}` +
      (c.failed ? `<span class="failed">${fmt(c.failed)} failed</span>` : "") + "</td>";
  }).join("") + "</tr>").join("");
  const box = document.getElementById("matrix");
  box.innerHTML = m.cells.length ? `<table aria-labelledby="matrix-title">${head}<tbody>${rows}</tbody></table>` :
    '<p class="empty">No exchanges in this range.</p>';
  // Coloured through the DOM: the page's policy refuses style attributes in markup.
  // Its figure in black or white, whichever stands out more on the shade (at least 4.5:1;
  // white on the mid blues was 2.4:1).
  box.querySelectorAll("td[data-alpha]").forEach((td) => {
    const alpha = Number(td.dataset.alpha);
    td.style.background = `rgba(${HEAT.join(",")},${alpha})`;
    const shade = luminance(HEAT.map((c) => 255 - alpha * (255 - c)));
    td.style.color = 1.05 / (shade + 0.05) >= (shade + 0.05) / 0.05 ? "#fff" : "#000";
  });
}

// What the health table counts, as GET /api/health/providers does: "5xx rate" of
// "exchanges" read as the hub's 503 refusals too, which never reached the provider.
const CALLED = "exchanges that reached the provider: it answered, or the call failed or " +
  "timed out; not those the hub refused or answered itself";
const FAILED = "share of those calls that failed: the provider's 5xx answers, failed calls " +
  "and timeouts";

function health(h) {
  const rows = h.providers.map((p) => {
    const reach = p.reachable === null ? '<span class="unknown">not checked</span>' :
      p.reachable ? '<span class="ok">reachable</span>' :
      // Why, written under it: in a tooltip alone, no phone or keyboard showed it.
      '<span class="bad">down</span>' + (p.error || p.status ?
        `<span class="reason">${esc(p.error || "HTTP " + p.status)}</span>` : "");
    const rate = percent(p.error_rate, 1);
    // Its name a row header, so that a screen reader says whose figure "3.9 %" is.
    return `<tr><th scope="row"${labelled(p.provider, h.names)}>${label(p.provider, h.names)}</th>` +
      `<td>${reach}</td><td class="num">${fmt(p.exchanges)}</td>` +
      `<td class="num">${rate}</td><td${p.circuit === "closed" || p.circuit === "n/a" ? "" :
        ' class="bad"'}>${esc(p.circuit)}</td></tr>`;
  }).join("");
  const share = percent(h.connection_rate, 0);
  if (!h.providers.length) {  // not an empty table under "0 of 0 providers reachable"
    document.getElementById("health").innerHTML =
      '<p class="empty">No providers registered: the registry has none to check.</p>';
    return;
  }
  document.getElementById("health").innerHTML =
    `<p>Connection rate: <b id="connection-rate">${share}</b> (${h.reachable} of ${h.registered} ` +
    `providers reachable)</p><table aria-labelledby="health-title"><thead><tr><th scope="col">provider</th>` +
    `<th scope="col">state</th><th scope="col" class="num" title="${CALLED}">calls</th>` +
    `<th scope="col" class="num" title="${FAILED}">error rate</th><th scope="col">circuit</th>` +
    `</tr></thead><tbody>${rows}</tbody></table>` +
    // Their window under the table, as `hub stats health` says it: "calls (15 min)" wrapped
    // on a phone, and counted up to 16 (the current minute too).
    `<p class="note" id="health-window">calls and error rate: the last ${h.window_minutes} ` +
    "minutes and the current one</p>";
}

// The answers drawn last, for "Download CSV": the columns of `hub stats matrix --csv` and
// `hub stats timeseries --csv` (a client or provider not identified is an empty field there too).
const drawn = {};

function csvField(v) {
  let s = v === null || v === undefined ? "" : String(v);
  // Text a spreadsheet would run as a formula (a registry name "=HYPERLINK(...)") gets a
  // leading quote, as hub/stats/output.py's as_text gives the CLI's CSV; numbers stay.
  if (typeof v === "string" && /^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

function saveCsv(what) {
  let rows;
  if (what === "matrix") {
    const names = drawn.matrix.names || {};
    rows = [["client", "provider", "count", "succeeded", "failed", "client_name", "provider_name"]]
      .concat(drawn.matrix.cells.map((c) => [c.client, c.provider, c.count, c.succeeded, c.failed,
        names[c.client] || "", names[c.provider] || ""]));
  } else {
    const ts = drawn.volume;
    const cols = ["total", "succeeded", "failed", "request_bytes", "response_bytes", "mean_ms"];
    rows = [["label", ...cols, ...ts.keys]].concat(ts.points.map((p) =>
      [p.label, ...cols.map((c) => p[c]), ...ts.keys.map((k) => (p.groups || {})[k] || 0)]));
  }
  const text = rows.map((r) => r.map(csvField).join(",")).join("\r\n") + "\r\n";
  const link = document.createElement("a");
  // A byte order mark first: Excel opens a file without one in the PC's legacy code page
  // ("Bộ Công an" read as "Bá»™ CÃ´ng an" under Windows-1252). LibreOffice and Python's
  // utf-8-sig read past it; `hub stats ... --csv`, for pipes, has none.
  const file = new Blob(["\uFEFF" + text], { type: "text/csv;charset=utf-8" });
  link.href = URL.createObjectURL(file);
  // The range's first bucket in the name, as its row and the chart label it (in the hub's
  // zone, not the UTC of `since`): hub-matrix-2026-12-05T20-00.csv, hub-volume-2026-11-07.csv
  const first = drawn.volume.points.length ? drawn.volume.points[0].label :
    drawn.volume.since.slice(0, 16);
  link.download = `hub-${what}-${first.replace(/:/g, "-")}.csv`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// The status is a live region: a screen reader reads out what goes wrong and that it works
// again, not "updated 09:03:24" every 15 seconds.
function say(status, className) {
  status.setAttribute("aria-live", className || status.className ? "polite" : "off");
  status.className = className;
}

let generation = 0;
let askedAt = null;  // when the refresh under way asked the hub (ms); null when none is
let shownAt = null;  // when the figures on the page were fetched, in the hub's time zone
let shownRange = null;  // and of which range ("last 24 hours"): the select may say another

async function refresh() {
  const status = document.getElementById("status");
  if (!token()) {
    askToken();
    say(status, "error");
    status.textContent = "no operator token: press Token to enter it";
    return;
  }
  // Only the newest refresh draws: a slow answer for a range left behind is dropped.
  const mine = ++generation;
  askedAt = Date.now();
  const select = document.getElementById("range");
  const since = select.value;
  const range = select.selectedOptions[0].textContent;
  const q = "since=" + encodeURIComponent(since);
  try {
    const providers = api("/api/health/providers");
    providers.catch(() => {});  // awaited below; not "unhandled" if the series fails first
    // The chart's buckets are whole local hours or days, so its range starts at the first
    // one's edge; the tiles and the matrix count from that same instant, so that they add
    // up to the bars (with "30d" alone they started mid-day and counted fewer). They end
    // where the series does too, at the hub's "now" when it answered (its `until`): each
    // asked up to its own "now", the tiles counted the exchanges logged between the
    // requests and the bars did not. The hub's clock, not the browser's: one set wrong made
    // future buckets, or a range refused for ending before it began.
    const ts = await api(`/api/stats/timeseries?${q}&bucket=${bucketFor(since)}&group_by=provider`);
    const same = `since=${encodeURIComponent(ts.since)}&until=${encodeURIComponent(ts.until)}`;
    const [s, m, h] = await Promise.all([
      api("/api/stats/summary?" + same),
      api("/api/stats/matrix?" + same),
      providers,
    ]);
    if (mine !== generation) return;
    tiles(s); volume(ts); latency(s); errors(s); matrix(m); health(h);
    drawn.matrix = m;
    drawn.volume = ts;
    document.getElementById("matrix-csv").disabled = !m.cells.length;  // no CSV of nothing,
    // Nor a row of zeros for each bucket.
    document.getElementById("volume-csv").disabled = !ts.points.some((p) => p.total > 0);
    // The instant the figures describe, by the hub's clock, in the hub's zone (as the
    // chart's buckets are), not the browser's.
    shownAt = new Date(ts.until).toLocaleTimeString("en-GB", { timeZone: ts.timezone });
    shownRange = range;
    // Where the figures start: the first bucket's edge, up to an hour (a day) before the
    // range's name says ("last 24 hours" counted from 03:00 at 03:59), which `hub stats
    // summary --since 24h` does not count; the tooltip has both ends for the command line.
    const span = document.getElementById("span");
    span.textContent = ts.points.length ? "since " + dated(ts.points[0].label) : "";
    span.title = `--since ${ts.since} --until ${ts.until}`;
    say(status, "");
    status.textContent = "updated " + shownAt;
    document.body.dataset.loaded = "yes";
  } catch (err) {
    if (mine !== generation) return;
    say(status, "error");
    // The charts left on the page are the last ones fetched: say how old, and that the
    // page tries again by itself (a token refused waits for the operator instead).
    const waiting = document.getElementById("token-dialog").open;
    status.textContent = String(err.message || err) +
      (shownAt && !waiting ? `; figures from ${shownAt}, of the ${shownRange}` : "") +
      (waiting ? "" : `; retrying every ${REFRESH_MS / 1000} s`);
  } finally {
    if (mine === generation) askedAt = null;
  }
}

// Every period, a refresh; but not over one still waiting for its answers. Each refresh
// dropped the one before it, so a hub slower than the period (a month of traffic on a busy
// database) never had an answer drawn, and was sent another set of queries every period.
// A new range or token still asks at once (refresh itself).
function tick() {
  if (askedAt === null) {
    refresh();
    return;
  }
  const status = document.getElementById("status");
  say(status, "");
  status.textContent = "waiting for the hub's answer (asked " +
    `${Math.round((Date.now() - askedAt) / 1000)} s ago)` +
    (shownAt ? `; figures from ${shownAt}, of the ${shownRange}` : "");
}

refresh();
setInterval(tick, REFRESH_MS);
