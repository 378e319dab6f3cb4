"""The dashboard's single page: static HTML that renders /api/jobs and /api/resources.

All text from the API is inserted with textContent, never as HTML: job names, node names
and error messages come from crawls and must not run as script in the viewer's browser.
"""

from __future__ import annotations

import json

from crawlers.dashboard.control_page import CONTROL_HTML, CONTROL_SCRIPT

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Crawls</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
 body { font: 14px/1.4 system-ui, sans-serif; margin: 0; background: #f4f5f7; color: #1d2433; }
 header { background: #1d2433; color: #fff; padding: 10px 20px; display: flex; gap: 24px;
          align-items: baseline; flex-wrap: wrap; }
 header h1 { font-size: 18px; margin: 0; }
 header .muted { color: #aab; }
 main { padding: 16px 20px; }
 .panel { background: #fff; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px;
          box-shadow: 0 1px 2px rgba(0,0,0,.08); }
 .job h2 { font-size: 16px; margin: 0 8px 0 0; display: inline-block; }
 .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
          color: #fff; background: #888; vertical-align: middle; }
 .badge.running { background: #1a7f37; } .badge.silent { background: #c2410c; }
 .badge.finished { background: #57606a; }
 .bar { background: #e5e7eb; border-radius: 4px; height: 22px; margin: 10px 0; position: relative;
        overflow: hidden; }
 .bar .fill { background: linear-gradient(90deg, #2563eb, #3b82f6); height: 100%;
              transition: width .5s; }
 .bar .fill.unknown { background: repeating-linear-gradient(45deg, #93c5fd 0 10px,
                      #bfdbfe 10px 20px); }
 .bar .label { position: absolute; inset: 0; text-align: center; line-height: 22px;
               font-weight: 600; color: #111; }
 .figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr));
            gap: 8px; margin-bottom: 10px; }
 .figure { background: #f8fafc; border: 1px solid #e5e7eb; border-radius: 4px; padding: 6px; }
 .figure .k { font-size: 11px; color: #57606a; text-transform: uppercase; }
 .figure .v { font-size: 16px; font-weight: 600; }
 table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
 th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eef0f3; font-size: 13px; }
 th { color: #57606a; font-weight: 600; }
 tr.node[data-state="silent"] td { background: #fff4ed; }
 tr.node[data-state="finished"] td { color: #57606a; }
 h3 { font-size: 13px; margin: 8px 0 2px; color: #57606a; }
 .cols { display: grid; grid-template-columns: 1fr 2fr; gap: 16px; }
 .err { color: #b91c1c; } .empty { color: #8b949e; font-style: italic; }
 #status.bad { color: #fca5a5; }
 #control h2 { font-size: 15px; margin: 6px 0; }
 form.start { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: flex-end; }
 form.start label { display: flex; flex-direction: column; font-size: 12px; color: #57606a; }
</style></head>
<body data-refresh="__REFRESH__" data-silent-after="__SILENT__">
<header><h1>Crawls</h1>
 <span class="muted">source: <span id="source">-</span></span>
 <span class="muted">host: <span id="host">-</span></span>
 <span class="muted">updated <span id="updated">-</span></span>
 <span id="status" class="muted"></span>
</header>
<main>__CONTROL_HTML__<div id="jobs"><p class="empty">No crawl has reported yet.</p></div>
</main>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const token = params.get("token");
const refresh = parseFloat(document.body.dataset.refresh) * 1000;

function api(path) {
  const headers = token ? {"Authorization": "Bearer " + token} : {};
  return fetch(path, {headers, cache: "no-store"}).then(r => {
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  });
}
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-")) node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : String(c));
  return node;
}
function num(n) { return n === null || n === undefined ? "--" : Number(n).toLocaleString("en-US"); }
function bytes(n) {
  if (n === null || n === undefined) return "--";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? n.toFixed(1) + " " + units[i] : n + " B";
}
function duration(s) {
  if (s === null || s === undefined) return "--";
  s = Math.round(s);
  if (s < 60) return s + "s";
  const m = Math.floor(s / 60);
  if (m < 60) return m + "m" + String(s % 60).padStart(2, "0") + "s";
  const h = Math.floor(m / 60);
  if (h < 24) return h + "h" + String(m % 60).padStart(2, "0") + "m";
  return Math.floor(h / 24) + "d" + String(h % 24).padStart(2, "0") + "h";
}
function rate(r) { return r === null || r === undefined ? "--" : r.toFixed(r < 10 ? 2 : 1) + "/s"; }
function clock(epoch) { return new Date(epoch * 1000).toISOString().slice(11, 19) + "Z"; }
function figure(key, value, cls) {
  return el("div", {class: "figure " + cls}, el("div", {class: "k"}, key),
            el("div", {class: "v"}, value));
}
function table(headers, rows, emptyText) {
  if (!rows.length) return el("p", {class: "empty"}, emptyText);
  return el("table", {}, el("tr", {}, ...headers.map(h => el("th", {}, h))), ...rows);
}

function renderJob(job) {
  const p = job.progress;
  const known = p.total !== null && p.total !== undefined;
  const pct = known && p.percent !== null ? p.percent : null;
  const fill = el("div", {class: "fill" + (known ? "" : " unknown")});
  fill.style.width = (pct === null ? 100 : pct) + "%";
  const label = known
    ? num(p.finished) + " / " + num(p.total) + (pct === null ? "" : " (" + pct.toFixed(1) + "%)")
    : num(p.done) + " done (no total known)";
  const used = job.resources || {};
  const nodes = job.nodes.map(n => {
    const r = n.resources || {};
    return el("tr", {class: "node", "data-node": n.node, "data-state": n.state},
      el("td", {}, n.node), el("td", {}, n.host || ""), el("td", {}, n.pid || ""),
      el("td", {}, el("span", {class: "badge " + n.state}, n.state)),
      el("td", {}, duration(n.seen_ago) + " ago"),
      el("td", {class: "node-done"}, num(n.progress.done)),
      el("td", {}, n.share_percent === null ? "--" : n.share_percent.toFixed(1) + "%"),
      el("td", {}, n.state === "running" ? rate(n.rate) : "--"),
      el("td", {}, num(n.progress.failed)),
      el("td", {}, bytes(r.memory_bytes) + " / " + bytes(r.memory_peak_bytes)),
      el("td", {}, r.cpu_percent === undefined ? "--" : Math.round(r.cpu_percent) + "%"),
      el("td", {}, r.processes === undefined ? "--" : r.processes));
  });
  const failures = Object.entries(job.failures).map(([reason, count]) =>
    el("tr", {}, el("td", {}, reason), el("td", {}, num(count))));
  const errors = job.recent_errors.map(e =>
    el("tr", {}, el("td", {}, clock(e.at)), el("td", {}, e.node),
       el("td", {class: "err"}, e.message)));
  const silent = job.silent_nodes.length
    ? el("p", {class: "err silent-nodes"}, "Silent for over " + duration(
        parseFloat(document.body.dataset.silentAfter)) + ": " + job.silent_nodes.join(", "))
    : "";
  return el("section", {class: "panel job", "data-job": job.job, "data-state": job.state},
    el("h2", {}, job.job), el("span", {class: "badge job-state " + job.state}, job.state),
    el("span", {class: "muted"}, "  " + job.spiders.join(", ")),
    el("span", {class: "muted job-run"}, "  run " + (job.run || "-")),
    el("div", {class: "bar"}, fill, el("div", {class: "label job-label"}, label)),
    el("div", {class: "figures"},
      figure("done", num(p.done), "job-done"), figure("total", num(p.total), "job-total"),
      figure("remaining", num(p.remaining), "job-remaining"),
      figure("skipped", num(p.skipped), "job-skipped"),
      figure("failed", num(p.failed), "job-failed"), figure("rate", rate(job.rate), "job-rate"),
      figure("ETA", duration(job.eta_seconds), "job-eta"),
      figure("elapsed", duration(job.elapsed_seconds), "job-elapsed"),
      figure("nodes", job.nodes.filter(n => n.state === "running").length + " running / " +
             job.nodes.length, "job-nodes"),
      figure(job.state === "running" ? "memory" : "memory at last report",
             bytes(used.memory_bytes), "job-memory"),
      figure("peak memory (node)", bytes(used.memory_peak_bytes), "job-memory-peak"),
      figure("CPU time", duration(used.cpu_seconds), "job-cpu")),
    silent,
    el("h3", {}, "Nodes"),
    table(["node", "host", "pid", "state", "last seen", "done", "share", "rate", "failed",
           "memory / peak", "CPU", "procs"], nodes, "No node."),
    el("div", {class: "cols"},
      el("div", {}, el("h3", {}, "Failures by reason"),
         table(["reason", "units"], failures, "No failure.")),
      el("div", {}, el("h3", {}, "Recent errors"),
         table(["time", "node", "message"], errors, "No error."))),
    el("h3", {}, "Failed units (this run)"),
    failedTable(extras.get(job.job + "/" + job.run + "/failures")),
    el("h3", {}, "Done and rate over time (this run)"), chart(extras.get(job.job + "/" + job.run)),
    el("h3", {}, "Runs"), historyTable(extras.get(job.job)));
}

// Each job's history and its current run's series, fetched every few refreshes (they
// change slowly) and kept here so that a refresh redraws them at once.
const extras = new Map();
let extraTicks = 0;
async function fetchExtras(jobs) {
  for (const job of jobs) {
    const name = encodeURIComponent(job.job);
    try {
      const runPath = "api/jobs/" + name + "/runs/" + encodeURIComponent(job.run);
      const [runs, run, failed] = await Promise.all([api("api/jobs/" + name + "/runs"),
        api(runPath), api(runPath + "/failures")]);
      extras.set(job.job, runs.runs);
      extras.set(job.job + "/" + job.run, run.series);
      extras.set(job.job + "/" + job.run + "/failures", failed.failures);
    } catch (err) { /* shown again next time */ }
  }
}
function failedTable(units) {
  if (!units) return el("p", {class: "empty"}, "-");
  const rows = units.map(u => el("tr", {class: "failed-unit", "data-unit": u.unit,
      "data-reason": u.reason},
    el("td", {}, u.unit), el("td", {class: "err"}, u.reason), el("td", {}, u.node),
    el("td", {}, clock(u.at))));
  return table(["unit", "reason", "node", "when"], rows, "No failed unit.");
}
function historyTable(runs) {
  if (!runs) return el("p", {class: "empty"}, "-");
  const rows = runs.map(r => el("tr", {class: "run", "data-run": r.run,
      "data-flagged": String(r.flags.length > 0)},
    el("td", {}, r.run), el("td", {}, clock(r.started)),
    el("td", {}, r.ended ? clock(r.ended) : "running"),
    el("td", {}, r.finish_reasons.join(", ")), el("td", {}, num(r.done)),
    el("td", {}, num(r.failed) + (r.failed ? " (" + Object.entries(r.failures).map(
      ([k, v]) => k + " " + v).join(", ") + ")" : "")),
    el("td", {}, num(r.items)), el("td", {}, rate(r.rate)),
    el("td", {}, bytes(r.memory_peak_bytes)),
    el("td", {class: "err run-flags"}, r.flags.join("; "))));
  return table(["run", "start", "end", "reason", "done", "failed", "items", "rate",
                "peak memory", "against the run before"], rows, "No run.");
}
function chart(points) {
  const NS = "http://www.w3.org/2000/svg";
  if (!points || points.length < 2) return el("p", {class: "empty chart-empty"}, "No series yet.");
  // Sum the nodes: at each point, each node's latest done and rate.
  const latest = new Map(), done = [], rates = [];
  for (const p of [...points].sort((a, b) => a.t - b.t)) {
    latest.set(p.node, p);
    let d = 0, r = 0;
    for (const q of latest.values()) { d += q.done; r += q.rate || 0; }
    done.push([p.t, d]); rates.push([p.t, r]);
  }
  const w = 640, h = 140, t0 = done[0][0], t1 = done[done.length - 1][0] || t0 + 1;
  const maxDone = Math.max(1, ...done.map(p => p[1]));
  const maxRate = Math.max(0.01, ...rates.map(p => p[1]));
  const line = (series, max) => series.map(([t, v]) =>
    (((t - t0) / Math.max(1, t1 - t0)) * (w - 60) + 50).toFixed(1) + "," +
    (h - 20 - (v / max) * (h - 30)).toFixed(1)).join(" ");
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("class", "chart"); svg.setAttribute("width", w); svg.setAttribute("height", h);
  svg.setAttribute("data-points", String(points.length));
  svg.setAttribute("data-done", String(done[done.length - 1][1]));
  const add = (tag, attrs, text) => {
    const n = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
    if (text !== undefined) n.textContent = text;
    svg.append(n);
  };
  add("rect", {x: 50, y: 10, width: w - 60, height: h - 30, fill: "#f8fafc", stroke: "#e5e7eb"});
  add("polyline", {class: "done-line", points: line(done, maxDone), fill: "none",
                   stroke: "#2563eb", "stroke-width": 2});
  add("polyline", {class: "rate-line", points: line(rates, maxRate), fill: "none",
                   stroke: "#c2410c", "stroke-width": 1.5, "stroke-dasharray": "4 3"});
  add("text", {x: 2, y: 18, fill: "#2563eb", "font-size": 11}, num(maxDone) + " done");
  add("text", {x: 2, y: 32, fill: "#c2410c", "font-size": 11}, rate(maxRate) + " max");
  add("text", {x: 50, y: h - 4, fill: "#57606a", "font-size": 11}, clock(t0));
  add("text", {x: w - 70, y: h - 4, fill: "#57606a", "font-size": 11}, clock(t1));
  return svg;
}

async function tick() {
  try {
    const [data, res] = await Promise.all([api("api/jobs"), api("api/resources")]);
    document.getElementById("source").textContent = data.source;
    const h = res.host;
    document.getElementById("host").textContent = "load " + h.load.join(" ") + " on " + h.cpus +
      " CPUs, memory " + h.memory_percent.toFixed(0) + "% used of " + bytes(h.memory_total_bytes);
    if (extraTicks++ % 5 === 0) await fetchExtras(data.jobs);
    const box = document.getElementById("jobs");
    box.replaceChildren(...(data.jobs.length ? data.jobs.map(renderJob)
      : [el("p", {class: "empty"}, "No crawl has reported yet.")]));
    document.getElementById("updated").textContent = clock(data.now);
    const status = document.getElementById("status");
    status.textContent = ""; status.className = "muted";
  } catch (err) {
    const status = document.getElementById("status");
    status.textContent = "refresh failed: " + err.message; status.className = "bad";
  }
  setTimeout(tick, refresh);
}
tick();
</script>__CONTROL_SCRIPT__</body></html>
"""


def render_page(refresh: float, silent_after: float, control: bool = False) -> str:
    """The page; with `control`, the scrapyd part too (crawlers/dashboard/control_page.py)."""
    return (
        _PAGE.replace("__REFRESH__", json.dumps(refresh))
        .replace("__SILENT__", json.dumps(silent_after))
        .replace("__CONTROL_HTML__", CONTROL_HTML if control else "")
        .replace("__CONTROL_SCRIPT__", CONTROL_SCRIPT if control else "")
    )
