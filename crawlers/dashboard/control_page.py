"""The dashboard page's part for scrapyd nodes: the nodes, a start form, the jobs started.

Inserted into the page (crawlers/dashboard/page.py) when DASHBOARD_SCRAPYD_NODES is set.
Writes go through fetch() with the token in an Authorization header and a JSON body, never
through a plain form post (see crawlers/dashboard/writes.py). Text from the API goes in as
textContent, as in the rest of the page.
"""

CONTROL_HTML = """
<section class="panel" id="control">
 <h2>Nodes</h2><div id="nodes"><p class="empty">-</p></div>
 <h2>Start a job</h2>
 <form id="start-form" class="start">
  <label>spider <select name="spider" id="start-spider"></select></label>
  <label>job <input name="job" id="start-job" placeholder="spider and time" size="28"></label>
  <label>arguments (NAME=VALUE a line)<textarea name="args" id="start-args" rows="3"
   cols="40"></textarea></label>
  <label>settings (NAME=VALUE a line)<textarea name="settings" id="start-settings" rows="3"
   cols="40"></textarea></label>
  <div id="start-nodes"></div>
  <label id="start-token-label">token <input type="password" id="start-token"
   autocomplete="off"></label>
  <button type="submit" id="start-button">Start</button>
  <label>or at (cron, UTC) <input id="schedule-cron" placeholder="0 3 * * *" size="14"></label>
  <button type="button" id="schedule-button">Schedule (named as the job)</button>
  <span id="start-result"></span>
 </form>
 <h2>Started here</h2><div id="started"><p class="empty">-</p></div>
 <h2>Schedules</h2><div id="schedules"><p class="empty">-</p></div>
</section>
"""

CONTROL_SCRIPT = """
<script>
"use strict";
(function () {
  const form = document.getElementById("start-form");
  if (token) document.getElementById("start-token-label").style.display = "none";
  function writeToken() { return token || document.getElementById("start-token").value; }
  async function write(path, body) {
    const r = await fetch(path, {method: "POST", cache: "no-store", headers: {
      "Authorization": "Bearer " + writeToken(), "Content-Type": "application/json"},
      body: JSON.stringify(body || {})});
    let data = {};
    try { data = await r.json(); } catch (e) { /* not JSON */ }
    if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
    return data;
  }
  function pairs(text) {
    const out = {};
    for (const line of text.split("\\n")) {
      const t = line.trim();
      if (!t) continue;
      const i = t.indexOf("=");
      if (i < 1) throw new Error("not NAME=VALUE: " + t);
      out[t.slice(0, i).trim()] = t.slice(i + 1).trim();
    }
    return out;
  }
  let knownNodes = "";
  function renderNodes(nodes) {
    const rows = nodes.map(n => el("tr", {class: "scrapyd-node", "data-node": n.name,
        "data-ok": String(n.ok)},
      el("td", {}, n.name), el("td", {}, n.url),
      el("td", {}, el("span", {class: "badge " + (n.ok ? "running" : "silent")},
                      n.ok ? "answers" : "down")),
      el("td", {}, n.ok ? num(n.running) + " running, " + num(n.pending) + " pending" : ""),
      el("td", {}, n.ok ? (n.version || "not deployed") : ""),
      el("td", {class: "err"}, n.error || "")));
    document.getElementById("nodes").replaceChildren(
      table(["node", "scrapyd", "state", "jobs", "version", "error"], rows, "No node."));
    const names = nodes.map(n => n.name).join(",");
    if (names !== knownNodes) {  // only when they change: a user's choices stay
      knownNodes = names;
      document.getElementById("start-nodes").replaceChildren("nodes ", ...nodes.map(n =>
        el("label", {}, el("input", {type: "checkbox", name: "node", value: n.name,
                                     checked: true}), " " + n.name + " ")));
      const spiders = [...new Set(nodes.flatMap(n => n.spiders || []))].sort();
      document.getElementById("start-spider").replaceChildren(
        ...spiders.map(s => el("option", {value: s}, s)));
    }
  }
  function button(action, job, text, kind) {
    const b = el("button", {type: "button", class: "act-" + action, "data-job": job}, text);
    b.addEventListener("click", async () => {
      b.disabled = true;
      const result = document.getElementById("start-result");
      try {
        await write("api/" + (kind || "jobs") + "/" + encodeURIComponent(job) + "/" + action);
        result.textContent = action + ": " + job; result.className = "";
      } catch (err) {
        result.textContent = err.message; result.className = "err";
      }
      b.disabled = false;
      controlTick(false);
    });
    return b;
  }
  function renderStarted(jobs) {
    const rows = jobs.map(j => el("tr", {class: "started", "data-job": j.job,
        "data-state": j.state},
      el("td", {}, j.job), el("td", {}, j.spider),
      el("td", {}, el("span", {class: "badge started-state " + j.state}, j.state)),
      el("td", {}, ...j.nodes.map(n => el("div", {class: "started-node", "data-node": n.name,
        "data-state": n.state}, n.name + ": " + n.state,
        n.error ? el("span", {class: "err"}, " " + n.error) : ""))),
      el("td", {}, ...(j.state === "running" || j.state === "pending"
        ? [button("stop", j.job, j.stopping ? "Stop now" : "Stop")]
        : [button("resume", j.job, "Resume"), " ", button("retry-failed", j.job, "Retry failed"),
           " ", button("discard", j.job, "Discard")]))));
    document.getElementById("started").replaceChildren(
      table(["job", "spider", "state", "nodes", ""], rows, "No job started here yet."));
  }
  function renderSchedules(schedules) {
    const rows = schedules.map(s => {
      const last = (s.fired || []).slice(-1)[0];
      return el("tr", {class: "schedule", "data-name": s.name, "data-paused": String(s.paused)},
        el("td", {}, s.name), el("td", {}, s.cron), el("td", {}, s.start.spider),
        el("td", {}, s.paused ? "paused" : (s.next ? clock(s.next) + " " +
          new Date(s.next * 1000).toISOString().slice(0, 10) : "never")),
        el("td", {class: last && last.error ? "err" : ""},
          last ? last.job + (last.error ? ": " + last.error : "") : "-"),
        el("td", {}, button(s.paused ? "unpause" : "pause", s.name,
                            s.paused ? "Unpause" : "Pause", "schedules"), " ",
                     button("delete", s.name, "Delete", "schedules")));
    });
    document.getElementById("schedules").replaceChildren(
      table(["schedule", "cron (UTC)", "spider", "next", "last started", ""], rows,
            "No schedule."));
  }
  async function controlTick(again) {
    try {
      const [nodes, started, schedules] = await Promise.all(
        [api("api/nodes"), api("api/started"), api("api/schedules")]);
      renderNodes(nodes.nodes);
      renderStarted(started.jobs);
      renderSchedules(schedules.schedules);
    } catch (err) {
      const status = document.getElementById("status");
      status.textContent = "control: " + err.message; status.className = "bad";
    }
    if (again) setTimeout(() => controlTick(true), Math.max(refresh, 1000));
  }
  function startBody() {
    const body = {
      spider: document.getElementById("start-spider").value,
      args: pairs(document.getElementById("start-args").value),
      settings: pairs(document.getElementById("start-settings").value),
      nodes: [...form.querySelectorAll("input[name=node]:checked")].map(i => i.value),
    };
    const job = document.getElementById("start-job").value.trim();
    if (job) body.job = job;
    return body;
  }
  async function submit(how) {
    const result = document.getElementById("start-result");
    try {
      if (how === "schedule") {
        const body = startBody();
        body.name = body.job; delete body.job;
        body.cron = document.getElementById("schedule-cron").value.trim();
        const made = await write("api/schedules", body);
        result.textContent = "scheduled " + made.name; result.className = "";
      } else {
        const started = await write("api/jobs", startBody());
        result.textContent = "started " + started.job; result.className = "";
      }
    } catch (err) {
      result.textContent = err.message; result.className = "err";
    }
    controlTick(false);
  }
  form.addEventListener("submit", (event) => { event.preventDefault(); submit("start"); });
  document.getElementById("schedule-button").addEventListener("click", () => submit("schedule"));
  controlTick(true);
})();
</script>
"""
