// supervisor-rs live status page. Progressive: without this script the
// page and its confirm-then-POST forms work as they are. With it, rows
// follow /api/v1/events, actions go through the JSON API, and a filter
// box and group actions appear. All URLs are relative (reverse proxies).
(() => {
  "use strict";
  const table = document.getElementById("processes");
  if (!table || !window.fetch) return;
  // The server renders no action for a read-only user: neither do we.
  const readOnly = table.hasAttribute("data-readonly");
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
  const SIGNALLABLE = ["RUNNING", "STARTING", "STOPPING", "BACKOFF"];
  // The same actions the server renders for a state (the reference's),
  // and a signal button where a signal can be sent.
  const actionsFor = (state, name) => {
    const q = encodeURIComponent(name);
    const act = (label, action) => link(label, "index.html?processname=" + q + "&action=" + action);
    const list = readOnly ? []
      : state === "RUNNING" ? [act("Restart", "restart"), act("Stop", "stop")]
      : ["STOPPED", "EXITED", "FATAL"].includes(state) ? [act("Start", "start")] : [];
    if (!readOnly) list.push(act("Clear Log", "clearlog"));
    list.push(link("Log", "log.html?processname=" + q),
      link("Tail -f Stdout", "logtail/" + q, true),
      link("Tail -f Stderr", "logtail/" + q + "/stderr", true));
    if (!readOnly && SIGNALLABLE.includes(state)) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.className = "signal";
      b.textContent = "Signal\u2026";
      b.dataset.process = name;
      li.append(b);
      list.push(li);
    }
    return list;
  };

  // Uptime as the server renders it (page.rs `uptime`), from the
  // process's start and the server's clock (skew: ours minus theirs).
  let skew = 0;
  const uptime = (state, start) => {
    if (!["RUNNING", "STOPPING"].includes(state) || !(start > 0)) return "";
    const secs = Math.max(0, Math.floor(Date.now() / 1000 - skew - start));
    const days = Math.floor(secs / 86400), rest = secs % 86400;
    const pad = (n) => String(n).padStart(2, "0");
    const clock = Math.floor(rest / 3600) + ":" + pad(Math.floor(rest / 60) % 60) + ":" + pad(rest % 60);
    return days === 0 ? clock : days + (days === 1 ? " day, " : " days, ") + clock;
  };
  const cell = (tr, c) => tr.querySelector("td." + c);
  const stateOf = (tr) => tr.dataset.state;

  const update = (tr, name, d) => {
    const span = tr.querySelector(".state");
    span.textContent = d.to.toLowerCase();
    span.className = "state " + (CLASS[d.to] || "statusnominal");
    tr.dataset.state = d.to;
    tr.dataset.start = d.start || 0;
    cell(tr, "c-desc").textContent = d.description || "";
    cell(tr, "c-pid").textContent = d.pid > 0 ? d.pid : "";
    cell(tr, "c-up").textContent = uptime(d.to, d.start);
    cell(tr, "c-exit").textContent = ["EXITED", "BACKOFF", "FATAL"].includes(d.to) ? d.exitstatus : "";
    cell(tr, "c-err").textContent = d.spawnerr || "";
    tr.querySelector("ul.actions").replaceChildren(...actionsFor(d.to, name));
    filterRow(name, tr);
  };

  const events = new EventSource("api/v1/events");
  // Changes are applied once per frame, the last one of each process: a
  // thousand processes changing at once cost one layout, not a thousand.
  const pending = new Map();
  const flush = () => {
    for (const [name, d] of pending) update(rows.get(name), name, d);
    pending.clear();
  };
  events.addEventListener("state", (e) => {
    const d = JSON.parse(e.data);
    if (d.now) skew = Date.now() / 1000 - d.now;
    const name = d.group === d.name ? d.name : d.group + ":" + d.name;
    if (!rows.has(name)) {
      if (d.from !== null) location.reload(); // a process added by update
      return;
    }
    if (pending.size === 0) requestAnimationFrame(flush);
    pending.set(name, d);
  });

  // The server's clock, from the rendered rows; its signal buttons work
  // now.
  const first = rows.values().next().value;
  if (first && first.dataset.now > 0) skew = Date.now() / 1000 - first.dataset.now;
  document.body.classList.add("live");
  // Uptimes tick between events.
  // Only rows on screen tick: a thousand cells rewritten each second
  // would keep the page busy.
  const onScreen = new Set();
  if (window.IntersectionObserver) {
    const seen = new IntersectionObserver((entries) => {
      for (const e of entries) e.isIntersecting ? onScreen.add(e.target) : onScreen.delete(e.target);
    });
    for (const tr of rows.values()) seen.observe(tr);
  } else {
    for (const tr of rows.values()) onScreen.add(tr);
  }
  setInterval(() => {
    for (const tr of onScreen) {
      if (tr.hidden || !["RUNNING", "STOPPING"].includes(stateOf(tr))) continue;
      const up = uptime(stateOf(tr), +tr.dataset.start);
      cell(tr, "c-up").textContent = up;
      // The reference's description of a running process holds its uptime.
      const desc = cell(tr, "c-desc");
      const m = /^(pid \d+, uptime ).*$/.exec(desc.textContent);
      if (m && up) desc.textContent = m[1] + up;
    }
  }, 1000);

  // Signal: a small form in place of the button; Escape or Cancel closes it.
  const SIGNALS = ["HUP", "INT", "QUIT", "KILL", "TERM", "USR1", "USR2"];
  document.addEventListener("click", (e) => {
    const b = e.target.closest("button.signal");
    if (!b) return;
    const name = b.dataset.process;
    const form = document.createElement("form");
    form.className = "signal";
    const select = document.createElement("select");
    select.setAttribute("aria-label", "Signal to send to " + name);
    for (const s of SIGNALS) select.add(new Option(s, s, s === "HUP", s === "HUP"));
    const send = document.createElement("button");
    send.textContent = "Send";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    form.append(select, " ", send, " ", cancel);
    const close = () => { form.replaceWith(b); b.focus(); };
    cancel.addEventListener("click", close);
    form.addEventListener("keydown", (k) => { if (k.key === "Escape") close(); });
    form.addEventListener("submit", (s) => {
      s.preventDefault();
      const sig = select.value;
      call("signalProcess", [name, sig]).then(() => say("Signal " + sig + " sent to " + name, false),
        (f) => say("ERROR: Signal " + sig + " to " + name + ": " + unexpected(f), true));
      close();
    });
    b.replaceWith(form);
    select.focus();
  });

  // Filter by name or state text.
  const box = document.createElement("input");
  box.type = "search";
  box.placeholder = "Filter by name or state";
  box.setAttribute("aria-label", "Filter processes");
  box.className = "filter";
  main.insertBefore(box, table);
  let want = "";
  const filterRow = (name, tr) => {
    const text = name.toLowerCase() + " " + tr.dataset.state.toLowerCase();
    tr.hidden = want !== "" && !text.includes(want);
  };
  box.addEventListener("input", () => {
    want = box.value.trim().toLowerCase();
    for (const [name, tr] of rows) filterRow(name, tr);
  });

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
    th.colSpan = 8;
    th.textContent = group + " ";
    for (const [label, action] of readOnly ? [] : [["Start", "groupstart"], ["Stop", "groupstop"],
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
