// Measurements behind tests/bench/ui.sh (not a test): the status page
// with many processes in a real headless chromium (first paint, the cost
// of following a change of every process), and JSON API calls/s against
// XML-RPC calls/s on the same daemon, from the same client. Env: SV_URL,
// SV_USER, SV_PASS (as ui.mjs), SV_SECS (seconds per calls/s figure).
import http from "node:http";
import { chromium } from "playwright-core";

const BASE = process.env.SV_URL;
const AUTH = "Basic " + Buffer.from(process.env.SV_USER + ":" + process.env.SV_PASS).toString("base64");
const SECS = +(process.env.SV_SECS || 5);
const url = new URL(BASE);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

// One POST on the keep-alive connection; resolves to the body.
const post = (path, type, body) =>
  new Promise((resolve, reject) => {
    const req = http.request(
      { host: url.hostname, port: url.port, path, method: "POST", agent,
        headers: { "Content-Type": type, Authorization: AUTH, "Content-Length": Buffer.byteLength(body) } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString()) : reject(new Error(path + ": " + res.statusCode))));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
const json = async (method, params = []) => JSON.parse(await post("/api/v1/supervisor." + method, "application/json", JSON.stringify(params)));
// The same call, its answer left as text as for XML-RPC (parsing is the
// client's cost, not the server's).
const jsonText = (method) => post("/api/v1/supervisor." + method, "application/json", "[]");
const xml = (method) =>
  post("/RPC2", "text/xml", `<?xml version="1.0"?><methodCall><methodName>supervisor.${method}</methodName><params></params></methodCall>`);

// Calls/s of `call` for SECS seconds, one client, one call at a time.
const rate = async (call) => {
  const end = performance.now() + SECS * 1000;
  let n = 0;
  while (performance.now() < end) {
    await call();
    n++;
  }
  return n / SECS;
};

const all = await json("getAllProcessInfo");
const count = all.length;
const running = () => json("getAllProcessInfo").then((l) => l.filter((p) => p.statename === "RUNNING").length);

const browser = await chromium.launch({
  executablePath: process.env.SV_CHROMIUM || "/usr/bin/chromium",
  // Chromium as a user runs it, a renderer process of its own (the tests
  // use --single-process, which paints later); root needs --no-sandbox.
  args: ["--no-sandbox"],
});
const context = await browser.newContext({ httpCredentials: { username: process.env.SV_USER, password: process.env.SV_PASS } });
const page = await context.newPage();
const cdp = await context.newCDPSession(page);
await cdp.send("Performance.enable");
const metrics = async () => Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));

// First paint: median of 5 loads (the first warms the connection and auth).
const paints = [];
const ttfbs = [];
for (let i = 0; i < 6; i++) {
  await page.goto(BASE + "index.html", { waitUntil: "load" });
  // The paint entry can come after the load event: wait for it.
  const [fcp, ttfb] = await page.evaluate(() => new Promise((resolve) => {
    const nav = performance.getEntriesByType("navigation")[0].responseEnd;
    new PerformanceObserver((list, observer) => {
      const e = list.getEntriesByName("first-contentful-paint")[0];
      if (e) { observer.disconnect(); resolve([e.startTime, nav]); }
    }).observe({ type: "paint", buffered: true });
  }));
  if (i > 0) {
    paints.push(fcp);
    ttfbs.push(ttfb);
  }
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = await page.locator("#processes tbody tr[data-name]").count();

// Update cost: stop every process, then start every one, while the page
// follows; the renderer's main-thread time (script, layout, style) spent
// meanwhile, per process change shown.
const follow = async (action, shown) => {
  const before = await metrics();
  const t0 = performance.now();
  await json(action, [false]);
  await page.waitForFunction(
    ([n, state]) => document.querySelectorAll(`#processes .state`).length === n &&
      [...document.querySelectorAll("#processes .state")].every((s) => s.textContent === state),
    [count, shown], { timeout: 120000, polling: 100 },
  );
  const wall = performance.now() - t0;
  const after = await metrics();
  const busy = (k) => (after[k] - before[k]) * 1000;
  return { wall, script: busy("ScriptDuration"), layout: busy("LayoutDuration") + busy("RecalcStyleDuration"), task: busy("TaskDuration") };
};
const stop = await follow("stopAllProcesses", "stopped");
const start = await follow("startAllProcesses", "running");
// Idle: what the page costs per second while nothing changes (ticking uptimes).
const idle0 = await metrics();
await page.waitForTimeout(3000);
const idle1 = await metrics();
await browser.close();

await running();
const fmt = (x) => x.toFixed(1);
console.log(`processes: ${count} (rows on the page: ${rows})`);
console.log(`first contentful paint: median ${fmt(median(paints))} ms (of ${paints.map(fmt).join(", ")}); HTML received at ${fmt(median(ttfbs))} ms`);
for (const [name, r] of [["stop all", stop], ["start all", start]]) {
  console.log(`${name}: page shows all ${count} changes ${fmt(r.wall)} ms after the call; renderer busy ${fmt(r.task)} ms ` +
    `(script ${fmt(r.script)}, style+layout ${fmt(r.layout)}), ${fmt((r.task * 1000) / count)} us per process change`);
}
console.log(`idle page: renderer busy ${fmt(((idle1.TaskDuration - idle0.TaskDuration) * 1000) / 3)} ms per second (uptimes tick)`);

const figures = [];
for (const method of ["getState", "getAllProcessInfo"]) {
  const j = await rate(() => jsonText(method));
  const x = await rate(() => xml(method));
  figures.push([method, j, x]);
}
console.log(`${"calls/s, 1 keep-alive client".padEnd(34)} ${"JSON".padStart(10)} ${"XML-RPC".padStart(10)} ${"JSON/XML".padStart(9)}`);
for (const [m, j, x] of figures) {
  console.log(`${m.padEnd(34)} ${j.toFixed(0).padStart(10)} ${x.toFixed(0).padStart(10)} ${(j / x).toFixed(2).padStart(8)}x`);
}
agent.destroy();
