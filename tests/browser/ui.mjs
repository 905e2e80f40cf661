// The web UI in a real headless browser (Debian's chromium, driven by
// playwright-core), one browser for every check. Run by the e2e test
// `webui::the_page_works_in_a_real_browser`, which starts the daemon with
// the config these checks expect and passes:
//   SV_URL          the daemon's base URL, ending in "/"
//   SV_USER, SV_PASS  its credentials
//   SV_SCREENSHOTS  optional: a directory to write README screenshots to
// Prints one line per check and a closing "N passed, M failed"; exits 1
// when any failed.
import http from "node:http";
import { chromium } from "playwright-core";

const BASE = process.env.SV_URL;
const USER = process.env.SV_USER;
const PASS = process.env.SV_PASS;
const SHOTS = process.env.SV_SCREENSHOTS || "";
const AUTH = "Basic " + Buffer.from(USER + ":" + PASS).toString("base64");
const TIMEOUT = 15000;

// The JSON API as a non-browser client calls it (no Origin).
const rpc = async (method, params = []) => {
  const r = await fetch(BASE + "api/v1/supervisor." + method, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: AUTH },
    body: JSON.stringify(params),
  });
  return r.json();
};
const stateOf = async (name) => (await rpc("getProcessInfo", [name])).statename;
const until = async (what, probe) => {
  const end = Date.now() + TIMEOUT;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 50));
  }
};
const assert = (cond, why) => {
  if (!cond) throw new Error(why);
};

// A server on its own port: `handler(req, res)`; resolves to its base URL.
const serve = (handler) =>
  new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, "127.0.0.1", () => resolve([server, "http://127.0.0.1:" + server.address().port + "/"]));
  });

// A reverse proxy at the path prefix /sv/, as nginx's
// `location /sv/ { proxy_pass http://daemon/; proxy_set_header Host $host; }`.
const proxy = () =>
  serve((req, res) => {
    if (!req.url.startsWith("/sv/")) {
      res.writeHead(404).end();
      return;
    }
    const target = new URL(BASE);
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url.slice(3), headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    up.on("error", () => res.destroy());
    req.pipe(up);
  });

// Another site whose page posts a stop of `talker` to the daemon.
const evil = () =>
  serve((req, res) => {
    res.writeHead(200, { "Content-Type": "text/html" });
    res.end(
      `<form id=f method=post action="${BASE}index.html"><input name=processname value=talker>` +
        `<input name=action value=stop></form><script>document.getElementById("f").submit()</script>`,
    );
  });

const results = [];
const check = async (name, body) => {
  try {
    await body();
    results.push([name, null]);
    console.log("ok - " + name);
  } catch (e) {
    results.push([name, e]);
    console.log("not ok - " + name + ": " + (e && e.stack ? e.stack : e));
  }
};

// Never outlive the test that runs this: close the browser and fail.
const WATCHDOG_MS = 150000;
setTimeout(async () => {
  console.log("not ok - the checks took over " + WATCHDOG_MS + " ms");
  await browser.close().catch(() => 0);
  process.exit(1);
}, WATCHDOG_MS).unref();

const browser = await chromium.launch({
  executablePath: process.env.SV_CHROMIUM || "/usr/bin/chromium",
  args: ["--no-zygote", "--single-process", "--no-sandbox"],
});
const context = await browser.newContext({ httpCredentials: { username: USER, password: PASS } });
context.setDefaultTimeout(TIMEOUT);
const page = await context.newPage();
page.on("dialog", (d) => d.accept());
const errors = [];
page.on("pageerror", (e) => errors.push(String(e)));

const row = (p, name) => p.locator(`#processes tr[data-name="${name.replace(/"/g, '\\"')}"]`);
const stateText = (p, name) => row(p, name).locator(".state");
const expectState = async (p, name, text) =>
  until(`${name} to show ${text}`, async () => (await stateText(p, name).textContent()) === text);

await check("the list shows every process with its state", async () => {
  await page.goto(BASE + "index.html");
  await until("talker running", async () => (await stateOf("talker")) === "RUNNING");
  await page.reload();
  const names = await page.locator("#processes tbody tr[data-name]").evaluateAll((trs) => trs.map((t) => t.dataset.name));
  assert(JSON.stringify(names) === JSON.stringify(["<i>html", "idle", "talker", "web:w1", "web:w2"]), "rows: " + names);
  await expectState(page, "talker", "running");
  await expectState(page, "idle", "stopped");
  const pid = await row(page, "talker").locator("td.c-pid").textContent();
  assert(+pid > 0, "talker's pid: " + pid);
  assert(/^\d+:\d\d:\d\d$/.test(await row(page, "talker").locator("td.c-up").textContent()), "uptime");
});

await check("a program named with HTML is shown as text", async () => {
  const cell = row(page, "<i>html").locator("td").nth(2);
  assert((await cell.textContent()) === "<i>html", "name cell: " + (await cell.innerHTML()));
  assert((await page.locator("#processes i").count()) === 0, "an <i> element was made");
});

await check("start, stop and restart from the page show live, without reload", async () => {
  await page.evaluate(() => (window.notReloaded = true));
  await row(page, "idle").getByRole("link", { name: "Start", exact: true }).click();
  await expectState(page, "idle", "running");
  assert((await stateOf("idle")) === "RUNNING", "the daemon says idle is not running");
  // By keyboard: focus the link and press Enter.
  await row(page, "idle").getByRole("link", { name: "Stop", exact: true }).focus();
  await page.keyboard.press("Enter");
  await expectState(page, "idle", "stopped");
  const before = (await rpc("getProcessInfo", ["talker"])).pid;
  await row(page, "talker").getByRole("link", { name: "Restart", exact: true }).click();
  await until("a new talker pid on the page", async () => {
    const pid = +(await row(page, "talker").locator("td.c-pid").textContent());
    return pid > 0 && pid !== before;
  });
  await expectState(page, "talker", "running");
  assert(await page.evaluate(() => window.notReloaded === true), "the page reloaded");
});

await check("a group action stops and starts the whole group", async () => {
  await page.getByRole("button", { name: "Stop group", exact: true }).click();
  await expectState(page, "web:w1", "stopped");
  await expectState(page, "web:w2", "stopped");
  await page.getByRole("button", { name: "Start group", exact: true }).click();
  await expectState(page, "web:w1", "running");
  await expectState(page, "web:w2", "running");
});

await check("a signal chosen on the page reaches the process", async () => {
  const before = (await rpc("getProcessInfo", ["web:w2"])).pid;
  await row(page, "web:w2").getByRole("button", { name: "Signal…" }).click();
  await page.getByRole("combobox", { name: "Signal to send to web:w2" }).selectOption("KILL");
  await page.getByRole("button", { name: "Send" }).click();
  await until("the signal's message", async () => (await page.locator(".status_msg").textContent()) === "Signal KILL sent to web:w2");
  // Killed, so gone: the pid it had is no longer w2's.
  await until("w2's pid to change", async () => (await rpc("getProcessInfo", ["web:w2"])).pid !== before);
});

await check("the filter hides what does not match", async () => {
  await page.getByRole("searchbox", { name: "Filter processes" }).fill("web");
  assert(await row(page, "talker").isHidden(), "talker still shown");
  assert(await row(page, "web:w1").isVisible(), "w1 hidden");
  await page.getByRole("searchbox", { name: "Filter processes" }).fill("");
});

if (SHOTS) {
  await page.setViewportSize({ width: 1100, height: 420 });
  await page.screenshot({ path: SHOTS + "/list.png" });
}

await check("the log view merges processes and follows new output", async () => {
  const log = await context.newPage();
  await log.goto(BASE + "log.html?processname=talker&processname=web:w1&channel=both&bytes=1024&follow=1");
  const pre = log.locator("#log");
  const highest = async () => {
    const ticks = [...(await pre.textContent()).matchAll(/^talker \| tick-(\d+)$/gm)].map((m) => +m[1]);
    return ticks.length ? Math.max(...ticks) : 0;
  };
  const first = await until("talker's stdout lines", highest);
  await until("stderr lines with their prefix", async () => /^talker \(stderr\) \| err-\d+$/m.test(await pre.textContent()));
  await until("a newer line to stream in", async () => (await highest()) > first + 1);
  assert((await log.locator("#procs input:checked").count()) === 2, "the chosen processes are ticked");
  if (SHOTS) {
    await log.setViewportSize({ width: 1100, height: 420 });
    await log.screenshot({ path: SHOTS + "/log.png" });
  }
  await log.close();
});

await check("the page works under a path prefix behind a proxy", async () => {
  const [server, url] = await proxy();
  try {
    const p = await context.newPage();
    await p.goto(url + "sv/");
    await expectState(p, "idle", "stopped");
    await row(p, "idle").getByRole("link", { name: "Start", exact: true }).click();
    await expectState(p, "idle", "running");
    await row(p, "idle").getByRole("link", { name: "Stop", exact: true }).click();
    await expectState(p, "idle", "stopped");
    // The old link leads to the confirmation, whose POST acts and redirects
    // back under the prefix.
    await p.goto(url + "sv/index.html?processname=idle&action=start");
    await p.getByRole("button", { name: "Confirm" }).click();
    await p.waitForURL(/\/sv\/index\.html\?message=/);
    assert((await p.locator(".status_msg").textContent()) === "Process idle started", "message");
    await p.close();
  } finally {
    server.close();
    server.closeAllConnections();
  }
});

await check("a cross-origin POST is refused", async () => {
  const [server, url] = await evil();
  try {
    const p = await context.newPage();
    const answer = p.waitForResponse((r) => r.url() === BASE + "index.html" && r.request().method() === "POST");
    await p.goto(url);
    assert((await answer).status() === 403, "the daemon answered " + (await answer).status());
    assert((await stateOf("talker")) === "RUNNING", "talker was stopped");
    await p.close();
  } finally {
    server.close();
  }
});

if (SHOTS) {
  // One context only: a single-process chromium does not survive a second.
  await page.setViewportSize({ width: 390, height: 700 });
  await page.emulateMedia({ colorScheme: "dark" });
  await page.reload();
  await page.screenshot({ path: SHOTS + "/phone-dark.png" });
}

await check("no script error on any page", async () => assert(errors.length === 0, errors.join("\n")));

await browser.close();
const failed = results.filter(([, e]) => e).length;
console.log(`${results.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
