// supervisor-rs log view: the stdout and/or stderr logs of one or more
// processes, merged into one view with each line prefixed by its process
// (and channel), the last N bytes, and follow mode, which asks the JSON
// API's tailProcessStdoutLog / tailProcessStderrLog for what came after
// the offset it last saw. The form is a plain GET of this page, so every
// choice is a link. All URLs are relative (reverse proxies).
(() => {
  "use strict";
  const q = new URLSearchParams(location.search);
  const names = q.getAll("processname").filter((n) => n !== "");
  const channel = ["stdout", "stderr", "both"].includes(q.get("channel")) ? q.get("channel") : "both";
  const bytes = Math.max(1024, Math.min(+q.get("bytes") || 16384, 1 << 24));
  // Follow unless the form was sent with the box unticked.
  const following = q.get("follow") === "1" || !q.has("channel");
  const POLL_MS = 500;
  const MAX_LINES = 20000;
  const pre = document.getElementById("log");
  const status = document.getElementById("logstatus");
  const followBox = document.getElementById("follow");
  document.getElementById("channel").value = channel;
  const bytesSelect = document.getElementById("bytes");
  if (![...bytesSelect.options].some((o) => +o.value === bytes)) {
    bytesSelect.add(new Option(bytes + " bytes", String(bytes)));
  }
  bytesSelect.value = String(bytes);
  followBox.checked = following;

  const say = (text) => {
    status.hidden = !text;
    status.textContent = text;
  };
  const call = async (method, params) => {
    const r = await fetch("api/v1/supervisor." + method, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(params),
      credentials: "same-origin",
    });
    const answer = await r.json();
    if (answer && answer.fault) throw answer.fault;
    if (!r.ok) throw { code: r.status, string: answer.error || r.statusText };
    return answer;
  };

  // The process checkboxes: every process, the chosen ones ticked.
  const procs = document.getElementById("procs");
  call("getAllProcessInfo", []).then((all) => {
    const specs = all.map((p) => (p.group === p.name ? p.name : p.group + ":" + p.name)).sort();
    for (const spec of specs) {
      const label = document.createElement("label");
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = "processname";
      box.value = spec;
      box.checked = names.includes(spec);
      label.append(box, " " + spec);
      procs.append(label, " ");
    }
  }, (f) => say("Cannot list processes: " + f.string));

  if (names.length === 0) {
    say("Choose one or more processes and press Show.");
    return;
  }
  const channels = channel === "both" ? ["stdout", "stderr"] : [channel];
  const many = names.length > 1 || channels.length > 1;
  const sources = [];
  for (const name of names) {
    for (const ch of channels) {
      const prefix = many ? name + (ch === "stderr" ? " (stderr)" : "") + " | " : "";
      sources.push({ name, ch, prefix, offset: 0, partial: "", dead: false });
    }
  }
  document.title = "Supervisor logs: " + names.join(", ");

  let lines = 0;
  const append = (text) => {
    const atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    pre.append(text);
    lines += (text.match(/\n/g) || []).length;
    // Keep the view bounded: drop the oldest lines.
    while (lines > MAX_LINES && pre.firstChild) {
      const first = pre.firstChild;
      const n = (first.textContent.match(/\n/g) || []).length || 1;
      first.remove();
      lines -= n;
    }
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  };

  // One look at a source: whole lines get the prefix; a line not ended
  // yet waits for its end (or is shown at once when there is one source).
  const look = async (src) => {
    const method = src.ch === "stderr" ? "tailProcessStderrLog" : "tailProcessStdoutLog";
    const [text, offset, overflow] = await call(method, [src.name, src.offset, bytes]);
    const first = src.offset === 0;
    src.offset = offset;
    if (text === "") return;
    let body = src.partial + text;
    if (overflow && !first) body = "[... skipped: more than " + bytes + " bytes came at once]\n" + text;
    if (!many) {
      append(body);
      src.partial = "";
      return;
    }
    const cut = body.lastIndexOf("\n");
    src.partial = body.slice(cut + 1);
    if (cut < 0) return;
    const out = body.slice(0, cut).split("\n").map((l) => src.prefix + l + "\n").join("");
    append(out);
  };

  const round = async () => {
    const failures = [];
    for (const src of sources) {
      if (src.dead) continue;
      try {
        await look(src);
      } catch (f) {
        // A name that does not exist, or a log that is not kept: say so once.
        src.dead = f.code === 10 || f.code === 20 || f.code === 401;
        failures.push(src.name + " " + src.ch + ": " + (f.string || f));
      }
    }
    say(failures.join("; "));
  };

  let timer = null;
  const schedule = () => {
    clearTimeout(timer);
    if (followBox.checked) timer = setTimeout(() => round().finally(schedule), POLL_MS);
  };
  followBox.addEventListener("change", schedule);
  round().finally(schedule);
})();
