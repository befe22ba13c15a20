// The status page: fetches /v1/status every REFRESH_MS and redraws. No framework, no CDN.
"use strict";
const REFRESH_MS = 5000;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

function fmt(n) { return n == null ? "" : Number(n).toLocaleString("en-US"); }
function ago(iso) {
  if (!iso) return "";
  const s = (Date.now() - Date.parse(iso)) / 1000;
  return s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : iso.slice(0, 19).replace("T", " ");
}
function reason(load) {
  const e = load.error || load.retrying;
  if (!e) return "";
  // the reason names its line and column already ("line 4, column 'qty': …"); add them only if it does not
  const where = [e.line != null ? `line ${e.line}` : "", e.column ? `column ${e.column}` : ""].filter(Boolean).join(", ");
  return (where && !e.reason.startsWith("line ") ? `${where}: ` : "") + e.reason;
}

function loadsTable(loads, cls) {
  const head = el("tr", {}, ...["finished", "file", "table", "status", "rows", "rejected", "seconds", "reason"].map(h => el("th", {}, h)));
  const body = loads.map(l => el("tr", {"class": "load", "data-status": l.status},
    el("td", {}, ago(l.finished_at || l.started_at)), el("td", {"class": "file"}, l.file), el("td", {}, l.table),
    el("td", {"class": `status-${l.status}`}, l.status), el("td", {"class": "num"}, fmt(l.rows_loaded)),
    el("td", {"class": "num"}, fmt(l.rows_rejected)), el("td", {"class": "num"}, l.seconds != null ? l.seconds.toFixed(2) : ""),
    el("td", {"class": "reason"}, reason(l))));
  return el("table", {"class": cls}, el("thead", {}, head), el("tbody", {}, ...body));
}

function drawRoutes(routes) {
  const box = document.getElementById("routes");
  box.replaceChildren(...routes.map(r => el("div", {"class": "route", "data-route": r.name},
    el("div", {"class": "route-head"}, el("h2", {}, `Route ${r.name}`),
      el("span", {}, `${r.queued} queued, ${r.running} running` + (r.oldest_waiting_s != null ? `, oldest waiting ${Math.round(r.oldest_waiting_s)} s` : ""))),
    el("h3", {}, "Last loads"), loadsTable(r.recent, "recent"),
    el("h3", {}, "Failures"), r.failures.length ? loadsTable(r.failures, "failures") : el("p", {}, "none"))));
}

function drawChart(points) {
  const w = 600, h = 140, pad = 18, max = Math.max(1, ...points.map(p => p.rows));
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const bw = (w - pad) / Math.max(1, points.length);
  points.forEach((p, i) => {
    if (!p.rows) return;
    const bh = (h - 2 * pad) * p.rows / max;
    const r = document.createElementNS(SVG, "rect");
    for (const [k, v] of Object.entries({x: pad + i * bw, y: h - pad - bh, width: Math.max(1, bw - 1), height: bh})) r.setAttribute(k, v);
    const t = document.createElementNS(SVG, "title");
    t.textContent = `${p.minute.slice(11, 16)} UTC: ${fmt(p.rows)} rows, ${p.files} files`;
    r.append(t);
    svg.append(r);
  });
  document.getElementById("chart").replaceChildren(svg);
  document.getElementById("chart-max").textContent = `peak ${fmt(max)} rows/min`;
}

function drawHosts(hosts) {
  document.querySelector("#hosts tbody").replaceChildren(...hosts.map(h => el("tr", {},
    el("td", {}, h.host), el("td", {}, ago(h.last_started_at)), el("td", {}, ago(h.last_finished_at)),
    el("td", {"class": "num"}, fmt(h.loads)), el("td", {"class": "num"}, fmt(h.loading)))));
}

function draw(doc) {
  const alerts = [];
  if (doc.db_down) alerts.push("The database is unavailable: files wait and are retried.");
  if (doc.database_error) alerts.push(`Cannot read the tracking table: ${doc.database_error}`);
  if (doc.stopping) alerts.push("The service is stopping: running loads finish, nothing new starts.");
  document.getElementById("alerts").replaceChildren(...alerts.map(a => el("div", {"class": "alert"}, a)));
  document.getElementById("summary").textContent =
    `${doc.host} · v${doc.version} · workers ${doc.workers.busy}/${doc.workers.total} busy`;
  drawChart(doc.throughput);
  drawRoutes(doc.routes);
  drawHosts(doc.hosts);
  document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
}

async function refresh() {
  try {
    const res = await fetch("/v1/status", {credentials: "same-origin", cache: "no-store"});
    if (res.status === 401) { location.reload(); return; }
    draw(await res.json());
  } catch (e) {
    document.getElementById("updated").textContent = `not answering (${e.message})`;
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}
refresh();
