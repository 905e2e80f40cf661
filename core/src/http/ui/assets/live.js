// supervisor-rs live status page. Progressive: without this script the
// page and its confirm-then-POST forms work as they are. With it, rows
// follow /api/v1/events, actions go through the JSON API, and a filter
// box and group actions appear. All URLs are relative (reverse proxies).
(() => {
  "use strict";
  const table = document.getElementById("processes");
  if (!table || !window.fetch) return;
  const rows = new Map();
  for (const tr of table.tBodies[0].rows) rows.set(tr.dataset.name, tr);
  const main = document.querySelector("main");

  const say = (text, bad) => {
    let p = document.querySelector(".status_msg");
    if (!p) {
      p = document.createElement("p");
      p.setAttribute("role", "status");
      main.insertBefore(p, table);
    }
    p.className = "status_msg" + (bad ? " error" : "");
    p.textContent = text;
  };

  const call = async (method, params) => {
    const r = await fetch("api/v1/supervisor." + method, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(params || []),
      credentials: "same-origin",
    });
    const answer = await r.json();
    if (answer && answer.fault) throw answer.fault;
    if (!r.ok) throw { code: r.status, string: answer.error || r.statusText };
    return answer;
  };
  const unexpected = (f) => "unexpected rpc fault [" + f.code + "] " + f.string;
  const START_FAULTS = { 20: "no such file", 21: "file not executable", 60: "already started",
    50: "spawn error", 40: "abnormal termination" };
  const now = () => new Date().toString();

  // The reference's messages for each action.
  const ACTIONS = {
    start: (n) => call("startProcess", [n]).then(() => "Process " + n + " started",
      (f) => { throw "ERROR: Process " + n + ": " + (START_FAULTS[f.code] || unexpected(f)); }),
    stop: (n) => call("stopProcess", [n]).then(() => "Process " + n + " stopped",
      (f) => { throw unexpected(f); }),
    restart: (n) => call("stopProcess", [n]).catch(() => 0)
      .then(() => call("startProcess", [n]).catch(() => 0))
      .then(() => "Process " + n + " restarted"),
    clearlog: (n) => call("clearProcessLogs", [n]).then(() => "Log for " + n + " cleared",
      (f) => { throw unexpected(f); }),
    stopall: () => call("stopAllProcesses").then(() => "All stopped at " + now()),
    restartall: () => call("stopAllProcesses").catch(() => 0)
      .then(() => call("startAllProcesses").catch(() => 0))
      .then(() => "All restarted at " + now()),
    groupstart: (g) => call("startProcessGroup", [g]).then(() => "Group " + g + " started",
      (f) => { throw unexpected(f); }),
    groupstop: (g) => call("stopProcessGroup", [g]).then(() => "Group " + g + " stopped",
      (f) => { throw unexpected(f); }),
    grouprestart: (g) => call("stopProcessGroup", [g]).catch(() => 0)
      .then(() => call("startProcessGroup", [g]).catch(() => 0))
      .then(() => "Group " + g + " restarted"),
  };
  const CONFIRM = {
    clearlog: (n) => "Clear the logs of process " + n + "? Their files are emptied on disk.",
    stopall: () => "Stop all processes?",
    restartall: () => "Restart all processes?",
    groupstop: (g) => "Stop every process of group " + g + "?",
    grouprestart: (g) => "Restart every process of group " + g + "?",
  };

  const run = (action, name) => {
    if (CONFIRM[action] && !window.confirm(CONFIRM[action](name))) return;
    ACTIONS[action](name).then((m) => say(m, false), (m) => say(String(m.string || m), true));
  };

  document.addEventListener("click", (e) => {
    const a = e.target.closest("a[href*='action='], button[data-action]");
    if (!a) return;
    let action, name;
    if (a.dataset.action) {
      action = a.dataset.action;
      name = a.dataset.target;
    } else {
      const q = new URLSearchParams(a.getAttribute("href").split("?")[1] || "");
      action = q.get("action");
      name = q.get("processname");
      if (action === "refresh") return;
    }
    if (!ACTIONS[action]) return;
    e.preventDefault();
    run(action, name);
  });

  const CLASS = { RUNNING: "statusrunning", FATAL: "statuserror", BACKOFF: "statuserror" };
  const link = (label, href, blank) => {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    if (blank) a.target = "_blank";
    li.append(a);
    return li;
  };
  // The same actions the server renders for a state (the reference's).
  const actionsFor = (state, name) => {
    const q = encodeURIComponent(name);
    const act = (label, action) => link(label, "index.html?processname=" + q + "&action=" + action);
    const list = state === "RUNNING" ? [act("Restart", "restart"), act("Stop", "stop")]
      : ["STOPPED", "EXITED", "FATAL"].includes(state) ? [act("Start", "start")] : [];
    list.push(act("Clear Log", "clearlog"), link("Tail -f Stdout", "logtail/" + q, true),
      link("Tail -f Stderr", "logtail/" + q + "/stderr", true));
    return list;
  };

  const update = (tr, name, state, pid) => {
    const span = tr.querySelector(".state");
    span.textContent = state.toLowerCase();
    span.className = "state " + (CLASS[state] || "statusnominal");
    tr.cells[3].textContent = pid > 0 ? pid : "";
    tr.querySelector("ul.actions").replaceChildren(...actionsFor(state, name));
    call("getProcessInfo", [name]).then((info) => { tr.cells[1].textContent = info.description; },
      () => 0);
    filter();
  };

  const events = new EventSource("api/v1/events");
  events.addEventListener("state", (e) => {
    const d = JSON.parse(e.data);
    const name = d.group === d.name ? d.name : d.group + ":" + d.name;
    const tr = rows.get(name);
    if (tr) update(tr, name, d.to, d.pid);
    else if (d.from !== null) location.reload(); // a process added by update
  });

  // Filter by name or state text.
  const box = document.createElement("input");
  box.type = "search";
  box.placeholder = "Filter by name or state";
  box.setAttribute("aria-label", "Filter processes");
  box.className = "filter";
  main.insertBefore(box, table);
  const filter = () => {
    const want = box.value.trim().toLowerCase();
    for (const [name, tr] of rows) {
      const text = name.toLowerCase() + " " + tr.querySelector(".state").textContent;
      tr.hidden = want !== "" && !text.includes(want);
    }
  };
  box.addEventListener("input", filter);

  // Group headers with group actions, for groups that are not one
  // process of the same name.
  let last = null;
  for (const [name, tr] of rows) {
    const group = name.includes(":") ? name.slice(0, name.lastIndexOf(":")) : null;
    if (group === null || group === last) continue;
    last = group;
    const head = document.createElement("tr");
    head.className = "group";
    const th = document.createElement("th");
    th.colSpan = 5;
    th.textContent = group + " ";
    for (const [label, action] of [["Start", "groupstart"], ["Stop", "groupstop"],
      ["Restart", "grouprestart"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = label + " group";
      b.dataset.action = action;
      b.dataset.target = group;
      th.append(b, " ");
    }
    head.append(th);
    tr.before(head);
  }
})();
