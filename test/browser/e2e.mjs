// Browser end-to-end tests of the link page against a real gateway and a
// real UDP seeder (bin/swarmgate), in headless Debian Chromium driven by
// playwright-core. Runs inside a loopback-only network namespace
// (run.sh). Prints one line per check and a JSON line of figures; exits
// non-zero if any check failed.
//
//   node test/browser/e2e.mjs [--clip FILE] [--only NAME]
import { chromium } from "playwright-core";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "../..");
const bin = path.join(repo, "bin/swarmgate");
const args = process.argv.slice(2);
const opt = (k, d) => { const i = args.indexOf(k); return i >= 0 ? args[i + 1] : d; };
const clip = path.resolve(opt("--clip", path.join(repo, "gateway/demo/demo.mp4")));
const only = opt("--only", "");
const deadline = Number(opt("--timeout", "60")) * 1000;
// --publish-size N: the published file is the clip padded to N bytes
// (players ignore bytes after the last box), at least the clip + 1 KiB;
// default 32 MiB: sizes well over the clip's showed faults it does not
// (decisions 58 and 60).
const publishSize = Number(opt("--publish-size", String(32 << 20)));

const ifaces = Object.keys(os.networkInterfaces()).filter((n) => n !== "lo");
if (ifaces.length && !args.includes("--allow-host-network")) {
  console.error(`refusing to run: interfaces other than lo are visible (${ifaces.join(", ")}); use run.sh (unshare -n)`);
  process.exit(2);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "swarmgate-e2e-"));
const procs = [];
function start(name, argv) {
  const p = spawn(bin, argv, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (out += d));
  p.on("exit", (code) => {
    if (!p.stopping) console.error(`${name} exited (${code}):\n${out}`);
  });
  procs.push(p);
  p.tag = name;
  p.log = () => out;
  return p;
}
function stopAll() { for (const p of procs) { p.stopping = true; p.kill("SIGTERM"); } }
const port = () => 20000 + Math.floor(Math.random() * 40000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitHTTP(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try { const r = await fetch(url); if (r.ok) return; } catch {}
    if (Date.now() > end) throw new Error(`${url} did not answer`);
    await sleep(100);
  }
}

// A file too big for one Buffer (--memory with 2 GiB) is not read here.
const clipSize = fs.statSync(clip).size;
const content = clipSize < 1 << 30 ? fs.readFileSync(clip) : null;
const sha256 = content ? createHash("sha256").update(content).digest("hex") : "";
// WebM and audio (test/browser/testdata, made by its make.sh): the link
// page plays them too, seeded beside the clip.
const media = [["clip.webm", "video/webm"], ["tone.mp3", "audio/mpeg"]].map(([name, mt]) => {
  const file = path.join(here, "testdata", name), b = fs.readFileSync(file);
  return { name, file, mt, size: b.length, sha256: createHash("sha256").update(b).digest("hex") };
});
// The clip padded to 24 MiB (players ignore bytes after the last box): a
// download long enough for a second page to find a peer page in the swarm.
if (content && content.length < 24 << 20) {
  const f = path.join(tmp, "padded.mp4"), b = Buffer.concat([content, randomBytes((24 << 20) - content.length)]);
  fs.writeFileSync(f, b);
  media.push({ name: "padded.mp4", file: f, mt: "video/mp4", size: b.length, sha256: createHash("sha256").update(b).digest("hex"), padded: true });
}
const seedPort = port(), gwUDP = port() + 1, gwHTTP = port() + 2;
const seeder = start("seeder", ["seed", "--listen", `127.0.0.1:${seedPort}`, "--state", path.join(tmp, "seed"), "--bootstrap", "none", clip, ...media.map((m) => m.file)]);
const gateway = start("gateway", ["gateway", "--listen", `127.0.0.1:${gwHTTP}`, "--data", path.join(tmp, "gw"), "--udp", `127.0.0.1:${gwUDP}`,
  "--no-dht", "--peer", `127.0.0.1:${seedPort}`, "--webrtc-loopback"]);
const base = `http://127.0.0.1:${gwHTTP}`;

// A root comes from hashing the file the same way the seeder does.
const hashRoot = (file) => new Promise((resolve, reject) => {
  const h = spawn(bin, ["hash", file]);
  let out = "";
  h.stdout.on("data", (d) => (out += d));
  h.on("exit", (c) => (c === 0 ? resolve(out.split("\n")[0].trim()) : reject(new Error("hash failed"))));
});
const root = await hashRoot(clip);
for (const m of media) {
  m.root = await hashRoot(m.file);
  m.path = `/${m.root}?cl=${m.size}&mt=${encodeURIComponent(m.mt)}&n=${encodeURIComponent(m.name)}`;
}
const mt = clip.endsWith(".webm") ? "video/webm" : "video/mp4";
const pagePath = `/${root}?cl=${clipSize}&mt=${encodeURIComponent(mt)}&n=${encodeURIComponent(path.basename(clip))}`;

const flags = (rules) => [
  "--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
  "--autoplay-policy=no-user-gesture-required", "--js-flags=--expose-gc",
  `--host-resolver-rules=${rules || ""}MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1`,
];
const launch = (rules) => chromium.launch({ executablePath: path.join(here, "chromium.sh"), headless: true, args: flags(rules) });

// Watches every RTCPeerConnection and WebSocket the page opens, and every
// message it sends on them, so a test can tell when the page went quiet.
const instrument = () => {
  const net = (window.__net = { pcs: [], sockets: [], sent: 0, answered: 0 });
  const PC = window.RTCPeerConnection;
  if (PC) {
    window.RTCPeerConnection = function (...a) {
      const pc = new PC(...a);
      net.pcs.push(pc);
      const cdc = pc.createDataChannel.bind(pc);
      const wrap = (dc) => { const s = dc.send.bind(dc); dc.send = (m) => { net.sent++; return s(m); }; return dc; };
      pc.createDataChannel = (...b) => wrap(cdc(...b));
      pc.addEventListener("datachannel", (e) => wrap(e.channel));
      const srd = pc.setRemoteDescription.bind(pc);
      pc.setRemoteDescription = (...b) => { net.answered++; return srd(...b); };
      return pc;
    };
    window.RTCPeerConnection.prototype = PC.prototype;
  }
  const WS = window.WebSocket;
  window.WebSocket = function (...a) {
    const ws = new WS(...a);
    net.sockets.push(ws);
    const s = ws.send.bind(ws);
    ws.send = (m) => { net.sent++; return s(m); };
    return ws;
  };
  window.WebSocket.prototype = WS.prototype;
  Object.assign(window.WebSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
};

const results = [], figures = { clip: path.basename(clip), bytes: clipSize };
async function check(name, f) {
  if (only && !name.includes(only)) return;
  const t0 = Date.now();
  try {
    await f();
    results.push({ name, ok: true });
    console.log(`PASS ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}: ${err && err.stack || err}`);
  }
}
async function until(page, what, fn, arg, ms = deadline) {
  try { return await page.waitForFunction(fn, arg, { timeout: ms, polling: 100 }); }
  catch (e) {
    const st = await page.evaluate(() => JSON.stringify({ mode: window.swarmgatePage && swarmgatePage.mode, errors: window.swarmgatePage && swarmgatePage.errors, rs: document.getElementById("player").readyState, t: document.getElementById("player").currentTime, feed: window.swarmgatePage && swarmgatePage.feed && swarmgatePage.feed(), marks: window.swarmgatePage && swarmgatePage.marks, status: window.swarmgatePage && swarmgatePage.last })).catch(() => "?");
    throw new Error(`timed out waiting for ${what}: ${st}`);
  }
}
// What the player gets through the Service Worker's /stream/ is the file, byte for byte.
async function streamIsFile(page, f = { root, mt, sha256 }) {
  const got = await page.evaluate(async ([root, mt]) => {
    const b = await (await fetch(`/stream/${root}?mt=${encodeURIComponent(mt)}`)).arrayBuffer();
    const d = await crypto.subtle.digest("SHA-256", b);
    return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, "0")).join("");
  }, [f.root, f.mt]);
  if (got !== f.sha256) throw new Error(`stream digest ${got}, file ${f.sha256}`);
}
const plays = (page, what) => until(page, what, () => { const v = document.getElementById("player"); return v.readyState >= 4 && v.currentTime > 1; });

// seekFrame seeks the player to frac of the duration and answers the ms
// until a frame at the target is shown; with ms > 0 it fails after ms.
const seekFrame = (page, frac, ms = 0) => page.evaluate(([frac, ms]) => new Promise((resolve, reject) => {
  const v = document.getElementById("player"), target = frac * v.duration, t0 = performance.now();
  const f = (now, meta) => { if (meta.mediaTime >= target - 0.05) resolve(Math.round(performance.now() - t0)); else v.requestVideoFrameCallback(f); };
  v.requestVideoFrameCallback(f);
  v.currentTime = target;
  if (ms > 0) setTimeout(() => reject(new Error(`no frame at ${target.toFixed(2)} s within ${ms} ms: ${JSON.stringify(swarmgatePage.feed && swarmgatePage.feed())}`)), ms);
}), [frac, ms]);

// bench: the figures of issue 7 for one clip, run after run: time from
// navigation to the first frame, seek to 75% (right after a second of
// playback, before the download is done) to the first frame there, and
// the whole clip's download into the tab.
async function bench(browser, runs) {
  const all = [];
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext();
    // --trace: the page's long tasks (over 50 ms), to see what holds its thread.
    if (args.includes("--trace")) await ctx.addInitScript(() => { window.sgLong = []; try { new PerformanceObserver((l) => l.getEntries().forEach((e) => window.sgLong.push([Math.round(e.startTime), Math.round(e.duration)]))).observe({ type: "longtask", buffered: true }); } catch (e) {} });
    const page = await ctx.newPage();
    if (args.includes("--trace")) {
      page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") console.error("console:", m.text()); });
      page.on("pageerror", (e) => console.error("page error:", e.message));
      page.on("crash", () => console.error("page crashed"));
      page.on("worker", (w) => console.error("worker started:", w.url()));
    }
    const cdp = await ctx.newCDPSession(page);
    await cdp.send("Runtime.enable");
    await cdp.send("Performance.enable");
    let heapPeak = 0;
    const sampler = setInterval(() => cdp.send("Runtime.getHeapUsage").then((h) => { heapPeak = Math.max(heapPeak, h.usedSize + (h.backingStorageSize || 0)); }).catch(() => {}), 100);
    // Each run gets a cold gateway (fresh data directory): the clip is
    // only on the UDP seeder when the page opens.
    const gp = port() + 3, gu = port() + 4;
    const g = start("gateway", ["gateway", "--listen", `127.0.0.1:${gp}`, "--data", path.join(tmp, `gw-bench-${i}`), "--udp", `127.0.0.1:${gu}`,
      "--no-dht", "--peer", `127.0.0.1:${seedPort}`, "--webrtc-loopback", ...(process.env.SG_GATEWAY_ARGS || "").split(" ").filter(Boolean).map((a) => a.replace("{run}", i))]);
    await waitHTTP(`http://127.0.0.1:${gp}/healthz`, 20000);
    const cpu0 = { gateway: cpuMs(g.pid), seeder: cpuMs(seeder.pid) };
    if (args.includes("--profile")) { await cdp.send("Profiler.enable"); await cdp.send("Profiler.setSamplingInterval", { interval: 500 }); await cdp.send("Profiler.start"); }
    // --chrome-trace FILE: Chromium's own trace of the load, to the first frame (chrome://tracing, Perfetto).
    const ctrace = opt("--chrome-trace", "");
    if (ctrace) await browser.startTracing(page, { path: ctrace.replace("{run}", i), categories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "v8.execute", "blink", "loading", "toplevel"] });
    // SG_EXTRA adds query keys to the page's link (A/B runs: "&sg-hold=0").
    await page.goto(`http://127.0.0.1:${gp}` + pagePath + "&autoplay=1" + (args.includes("--mse") ? "&sg-sw=0" : "") + (process.env.SG_EXTRA || ""));
    await until(page, "the Service Worker or MediaSource path", () => window.swarmgatePage && ["sw", "mse", "raw"].includes(swarmgatePage.mode));
    await until(page, "one second of playback", () => document.getElementById("player").currentTime > 1);
    if (ctrace) await browser.stopTracing();
    const r = await page.evaluate((trace) => ({ mode: swarmgatePage.mode, first_frame_ms: Math.round(swarmgatePage.firstFrameNavMs), client_to_frame_ms: Math.round(swarmgatePage.firstFrameMs), marks: swarmgatePage.marks, nav: trace ? (({ requestStart, responseStart, responseEnd, domInteractive, domContentLoadedEventEnd }) => ({ requestStart, responseStart, responseEnd, domInteractive, domContentLoadedEventEnd }))(performance.getEntriesByType("navigation")[0].toJSON()) : undefined, reads: trace ? swarmgatePage.reads.slice(0, 12) : undefined, res: trace ? performance.getEntriesByType("resource").map((e) => [e.name.replace(/^.*\//, "").slice(0, 24), Math.round(e.startTime), Math.round(e.responseStart), Math.round(e.responseEnd)]) : undefined }), args.includes("--trace"));
    r.seek_frame_ms = await seekFrame(page, 0.75);
    if (args.includes("--trace")) { r.seek_marks = await page.evaluate(() => swarmgatePage.marks); r.long_tasks = await page.evaluate(() => window.sgLong); console.error("after seek:", JSON.stringify({ marks: r.seek_marks, mode: r.mode, seek: r.seek_frame_ms, errors: await page.evaluate(() => swarmgatePage.errors), last: await page.evaluate(() => swarmgatePage.last), reads: await page.evaluate(() => swarmgatePage.reads) })); }
    const trace = setInterval(() => page.evaluate(() => { const s = swarmgatePage.last || {}; return JSON.stringify({ t: Math.round(performance.now()), mode: swarmgatePage.mode, have: s.have, total: s.total, drops: s.dropsRecv, rtx: s.retransmits, recv: s.bytesRecv }); }).then((x) => args.includes("--trace") && console.error(x)).catch(() => {}), 2000);
    try { await until(page, "the download to complete", () => swarmgatePage.last && swarmgatePage.last.done, null, 300000); } finally { clearInterval(trace); }
    const s = await page.evaluate(() => ({ now: performance.now(), started: swarmgatePage.started }));
    // The other ends' CPU for the whole clip (they share this machine's
    // cores with the tab): per MiB, from /proc.
    r.gateway_cpu_ms_per_mib = Math.round((cpuMs(g.pid) - cpu0.gateway) / (clipSize / 1048576));
    r.seeder_cpu_ms_per_mib = Math.round((cpuMs(seeder.pid) - cpu0.seeder) / (clipSize / 1048576));
    // A seek once the tab holds everything: the player's own share of a seek.
    r.seek_held_frame_ms = await seekFrame(page, 0.25);
    r.download_ms = Math.round(s.now);
    r.throughput_mibps = +(clipSize / 1048576 / (s.now / 1000)).toFixed(1);
    const st = await page.evaluate(() => swarmgatePage.last);
    r.leecher_uploaded_bytes = st.uploaded;
    r.msgs_sent = st.msgsSent; r.bytes_sent = st.bytesSent; r.bytes_recv = st.bytesRecv; r.drops_recv = st.dropsRecv; r.retransmits = st.retransmits;
    r.heap_peak_mib = +(heapPeak / 1048576).toFixed(1);
    if (args.includes("--profile")) {
      // Self time by function over the whole run, top 25 (wasm functions by their Go names).
      const { profile } = await cdp.send("Profiler.stop");
      const out = opt("--profile-out", "");
      if (out) fs.writeFileSync(out.replace("{run}", i), JSON.stringify(profile)); // for DevTools, or a script
      const self = new Map(), byId = new Map(profile.nodes.map((n) => [n.id, n]));
      const dt = profile.timeDeltas, total = dt.reduce((a, b) => a + b, 0);
      profile.samples.forEach((id, i) => { const n = byId.get(id), k = n.callFrame.functionName || n.callFrame.url || "(anon)"; self.set(k, (self.get(k) || 0) + (dt[i] || 0)); });
      const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(opt("--profile-top", "25"))).map(([k, v]) => `${(v / 1000).toFixed(0).padStart(6)} ms ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`);
      console.error(top.join("\n"));
      // The same by Go package (wasm functions are named pkg.func) or script.
      const pkg = new Map();
      for (const [k, v] of self) { const m = k.match(/^(.*?)[.](?:__)?[A-Za-z_]*[A-Za-z]/); const p = m ? m[1] : k; pkg.set(p, (pkg.get(p) || 0) + v); }
      console.error([...pkg.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${(v / 1000).toFixed(0).padStart(6)} ms ${(100 * v / total).toFixed(1).padStart(5)}%  ${k}`).join("\n"));
    }
    const pm = Object.fromEntries((await cdp.send("Performance.getMetrics")).metrics.map((m) => [m.name, m.value]));
    r.tab_task_s = +pm.TaskDuration.toFixed(2);
    r.tab_script_s = +pm.ScriptDuration.toFixed(2);
    r.tab_cpu_ms_per_mib = Math.round(pm.TaskDuration * 1000 / (clipSize / 1048576));
    clearInterval(sampler);
    g.stopping = true; g.kill("SIGTERM");
    console.log(JSON.stringify(r));
    all.push(r);
    await ctx.close();
  }
  const med = (k) => { const v = all.map((r) => r[k]).sort((a, b) => a - b); return v[Math.floor(v.length / 2)]; };
  console.log(JSON.stringify({ median: true, runs, first_frame_ms: med("first_frame_ms"), seek_frame_ms: med("seek_frame_ms"), download_ms: med("download_ms"), throughput_mibps: med("throughput_mibps"), heap_peak_mib: med("heap_peak_mib"), tab_cpu_ms_per_mib: med("tab_cpu_ms_per_mib"), gateway_cpu_ms_per_mib: med("gateway_cpu_ms_per_mib"), seeder_cpu_ms_per_mib: med("seeder_cpu_ms_per_mib") }));
}

// cpuMs is a process's user plus system CPU time in milliseconds
// (/proc/PID/stat, clock ticks of 10 ms), or 0 when it cannot be read.
function cpuMs(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch (e) { return 0; }
}

// rendererRSS is the largest resident set of a renderer process (a tab), in bytes.
const rendererRSS = () => {
  try {
    return execFileSync("ps", ["-C", "chromium", "-o", "rss=,args="], { encoding: "utf8" }).split("\n")
      .filter((l) => l.includes("--type=renderer") && !l.includes("--extension-process")).map((l) => Number(l.trim().split(/\s+/)[0]) * 1024)
      .reduce((a, b) => Math.max(a, b), 0);
  } catch { return 0; }
};

// memory: the tab's memory while it plays and fetches a big file (issue 7:
// "a 2 GiB video plays with the tab's memory bounded"): Go-WASM linear
// memory, JS heap, the renderer's RSS and the origin's storage, sampled
// every 5 s until the download completes or --duration seconds pass.
async function memory(seconds) {
  // A profile on disk: an incognito context's storage quota is a slice of
  // memory, too small for a 2 GiB video.
  const ctx = await chromium.launchPersistentContext(path.join(tmp, "profile"), { executablePath: path.join(here, "chromium.sh"), headless: true, args: flags() });
  const page = await ctx.newPage();
  const cdp = await ctx.newCDPSession(page);
  await cdp.send("Runtime.enable");
  const t0 = Date.now();
  await page.goto(base + pagePath + "&autoplay=1");
  await until(page, "the Service Worker path", () => window.swarmgatePage && ["sw", "mse"].includes(swarmgatePage.mode));
  await plays(page, "playback");
  const peak = { wasm: 0, heap: 0, rss: 0 };
  const mib = (n) => +(n / 1048576).toFixed(1);
  let last;
  for (;;) {
    const h = await cdp.send("Runtime.getHeapUsage");
    const s = await page.evaluate(async () => {
      const st = swarmgatePage.last || {}, est = await navigator.storage.estimate();
      return { have: st.have || 0, total: st.total || 0, done: !!st.done || !!st.error, error: st.error, quota: est.quota, wasm: window.swarmgateWasmBytes ? swarmgateWasmBytes() : 0, storage: est.usage || 0, kind: st.storage };
    });
    const rss = rendererRSS();
    peak.wasm = Math.max(peak.wasm, s.wasm); peak.heap = Math.max(peak.heap, h.usedSize); peak.rss = Math.max(peak.rss, rss);
    last = { t_s: Math.round((Date.now() - t0) / 1000), fetched_mib: mib(s.have * 1024), of_mib: mib(s.total * 1024), wasm_mib: mib(s.wasm), js_heap_mib: mib(h.usedSize), renderer_rss_mib: mib(rss), storage_mib: mib(s.storage), quota_mib: mib(s.quota || 0), storage: s.kind, error: s.error };
    console.log(JSON.stringify(last));
    if (s.done || Date.now() - t0 > seconds * 1000) break;
    // Move the playhead around the file, as seeks do.
    if (s.total) await page.evaluate((off) => swarmgatePage.handle && swarmgatePage.handle.read(off, 65536, 30000).catch(() => {}), Math.floor(Math.random() * s.total) * 1024);
    await sleep(5000);
  }
  console.log(JSON.stringify({ memory: true, bytes: clipSize, seconds: last.t_s, fetched_mib: last.fetched_mib, peak_wasm_mib: mib(peak.wasm), peak_js_heap_mib: mib(peak.heap), peak_renderer_rss_mib: mib(peak.rss), storage_mib: last.storage_mib }));
  await ctx.close();
}

try {
  await waitHTTP(`${base}/healthz`, 20000);
  const browser = await launch();
  if (args.includes("--memory")) {
    await memory(Number(opt("--duration", "900")));
    await browser.close();
    stopAll();
    process.exit(0);
  }
  if (args.includes("--bench")) {
    await bench(browser, Number(opt("--runs", "3")));
    await browser.close();
    stopAll();
    process.exit(0);
  }

  await check("link page plays over WebRTC through the Service Worker, every byte the file's", async () => {
    const ctx = await browser.newContext();
    await ctx.addInitScript(instrument);
    const page = await ctx.newPage();
    page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
    const t0 = Date.now();
    await page.goto(base + pagePath + "&autoplay=1&sg-mse=0");
    await until(page, "the Service Worker path", () => window.swarmgatePage && swarmgatePage.mode === "sw");
    await until(page, "the first frame", () => swarmgatePage.firstFrameMs >= 0);
    figures.first_frame_ms = Math.round(await page.evaluate(() => swarmgatePage.firstFrameMs));
    figures.first_frame_from_open_ms = Date.now() - t0;
    await plays(page, "playback");
    await until(page, "the download to complete", () => swarmgatePage.last && swarmgatePage.last.done);
    figures.download_ms = Date.now() - t0;
    // What the player gets is the file, byte for byte.
    await streamIsFile(page);
    // A leecher uploads nothing and, once done, goes silent.
    await until(page, "the page to go quiet", () => swarmgatePage.last && swarmgatePage.last.quiet, null, 10000);
    await until(page, "every connection closed", () => __net.pcs.every((pc) => pc.connectionState === "closed" || pc.signalingState === "closed") && __net.sockets.every((s) => s.readyState === 3), null, 10000);
    const s = await page.evaluate(() => swarmgatePage.last);
    if (s.uploaded !== 0) throw new Error(`leecher uploaded ${s.uploaded} bytes`);
    if (s.fromPeers + s.fromGateway !== clipSize) throw new Error(`verified ${s.fromPeers + s.fromGateway} bytes of ${clipSize}`);
    figures.leecher_uploaded_bytes = s.uploaded;
    figures.from_gateway_bytes = s.fromGateway;
    // The signaling session load.js opened while the module compiled is
    // the one the client used, and so is its connection to the gateway if
    // it offered one before the client started (decision 58): one socket
    // and one connection negotiated in all, closed with the rest above.
    // The offer load.js makes while its socket opens is one more peer
    // connection, never negotiated, when the client started before the
    // broker listed a peer (decision 66).
    figures.early_connections = s.early;
    const made = await page.evaluate(() => [__net.sockets.length, __net.pcs.length, __net.answered]);
    if (made[0] !== 1 || made[2] !== 1 || made[1] > 1 + (s.early ? 0 : 1)) throw new Error(`the page made ${made[0]} WebSockets and ${made[1]} peer connections, ${made[2]} negotiated, not one of each (early ones not taken over?)`);
    const sent0 = await page.evaluate(() => __net.sent);
    await sleep(3000);
    const sent1 = await page.evaluate(() => __net.sent);
    if (sent1 !== sent0) throw new Error(`page sent ${sent1 - sent0} messages after done`);
    figures.msgs_after_done_3s = sent1 - sent0;
    // A seek to 75% lands and plays.
    const dur = await page.evaluate(() => document.getElementById("player").duration);
    const t1 = Date.now();
    await page.evaluate((d) => { document.getElementById("player").currentTime = 0.75 * d; }, dur);
    await until(page, "the seek to land and play", (d) => { const v = document.getElementById("player"); return !v.seeking && v.readyState >= 3 && v.currentTime > 0.75 * d + 0.5; }, dur);
    figures.seek_play_ms = Date.now() - t1;
    await ctx.close();
  });

  await check("the client in a dedicated worker (?sg-worker=1) plays through the Service Worker, every byte the file's", async () => {
    const ctx = await browser.newContext();
    await ctx.addInitScript(instrument);
    const page = await ctx.newPage();
    page.on("console", (m) => { if (m.type() === "error") console.error("worker page:", m.text()); });
    let workers = 0;
    page.on("worker", () => workers++);
    // The page's wrappers do not see the worker's sends: the gateway, the
    // other end, tells (its /metrics).
    const metric = async (name) => {
      const text = await (await fetch(base + "/metrics")).text();
      const line = text.split("\n").find((l) => l.startsWith(name + " ") || l.startsWith(name + "{"));
      return line ? Number(line.split(" ").pop()) : NaN;
    };
    const sessions0 = await metric("swarmgate_signaling_sessions");
    if (Number.isNaN(sessions0)) throw new Error("the gateway reports no swarmgate_signaling_sessions");
    await page.goto(base + pagePath + "&autoplay=1&sg-mse=0&sg-worker=1");
    await until(page, "the Service Worker path", () => window.swarmgatePage && swarmgatePage.mode === "sw");
    if (!(await page.evaluate(() => swarmgatePage.worker)) || workers === 0) throw new Error("the client did not run in a worker");
    await plays(page, "playback");
    await until(page, "the download to complete", () => swarmgatePage.last && swarmgatePage.last.done);
    await streamIsFile(page);
    // The page made the peer connections for the worker: closed once done.
    await until(page, "the client to go quiet", () => swarmgatePage.last && swarmgatePage.last.quiet, null, 10000);
    await until(page, "the page's peer connections closed", () => __net.pcs.length > 0 && __net.pcs.every((pc) => pc.connectionState === "closed" || pc.signalingState === "closed"), null, 10000);
    const s = await page.evaluate(() => swarmgatePage.last);
    if (s.uploaded !== 0 || s.fromPeers + s.fromGateway !== clipSize) throw new Error(`uploaded ${s.uploaded}, verified ${s.fromPeers + s.fromGateway} of ${clipSize}`);
    figures.worker_first_frame_ms = Math.round(await page.evaluate(() => swarmgatePage.firstFrameMs));
    // Done, the worker's signaling session and peer connection are gone
    // and nothing reaches the gateway over WebRTC.
    const gone = async () => (await metric("swarmgate_webrtc_connections")) === 0 && (await metric("swarmgate_signaling_sessions")) === sessions0;
    for (let i = 0; i < 50 && !(await gone()); i++) await sleep(200);
    if (!(await gone())) throw new Error(`the worker's session or connection stayed open: ${await metric("swarmgate_signaling_sessions")} sessions (${sessions0} before), ${await metric("swarmgate_webrtc_connections")} connections`);
    const in0 = await metric('swarmgate_transport_bytes_total{direction="in",transport="webrtc"}');
    await sleep(3000);
    const in1 = await metric('swarmgate_transport_bytes_total{direction="in",transport="webrtc"}');
    if (!(in1 === in0)) throw new Error(`the gateway received ${in1 - in0} bytes over WebRTC after the worker was done`);
    await ctx.close();
  });

  await check("a link fetched before plays again from the tab's storage, re-verified, with no network", async () => {
    const ctx = await browser.newContext();
    await ctx.addInitScript(instrument);
    const p1 = await ctx.newPage();
    await p1.goto(base + pagePath + "&autoplay=1");
    await until(p1, "the download to complete and the page to go quiet", () => swarmgatePage.last && swarmgatePage.last.done && swarmgatePage.last.quiet);
    const s1 = await p1.evaluate(() => swarmgatePage.last);
    if (s1.storage !== "opfs") throw new Error(`chunks kept in ${s1.storage}, want the Origin Private File System`);
    if (s1.restored !== 0) throw new Error(`a fresh context restored ${s1.restored} chunks`);
    await p1.close();
    const p2 = await ctx.newPage();
    const t0 = Date.now();
    await p2.goto(base + pagePath + "&autoplay=1");
    await until(p2, "the MediaSource path (an MP4 on a secure page)", () => window.swarmgatePage && swarmgatePage.mode === "mse");
    await until(p2, "the first frame", () => swarmgatePage.firstFrameMs >= 0);
    figures.reopen_first_frame_from_open_ms = Date.now() - t0;
    await plays(p2, "playback from storage");
    await until(p2, "the status to say offline", () => swarmgatePage.last && swarmgatePage.last.offline);
    const s2 = await p2.evaluate(() => swarmgatePage.last);
    if (s2.restored !== s2.total || !s2.done) throw new Error(`restored ${s2.restored} of ${s2.total} chunks`);
    const net = await p2.evaluate(() => ({ pcs: __net.pcs.length, sockets: __net.sockets.length, sent: __net.sent }));
    if (net.pcs || net.sockets || net.sent || s2.bytesRecv) throw new Error(`the reopened page used the network: ${JSON.stringify(net)}, ${s2.bytesRecv} bytes received`);
    if (!/no network used/.test(await p2.textContent("#mode"))) throw new Error("the page does not say it plays from storage");
    const got = await p2.evaluate(async ([root, mt]) => {
      const b = await (await fetch(`/stream/${root}?mt=${encodeURIComponent(mt)}`)).arrayBuffer();
      const d = await crypto.subtle.digest("SHA-256", b);
      return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, "0")).join("");
    }, [root, mt]);
    if (got !== sha256) throw new Error(`stream from storage digest ${got}, file ${sha256}`);
    await ctx.close();
  });

  await check("a lying peer's corrupted chunks are never played: the tab drops it and plays the file byte for byte", async () => {
    // A booster that keeps a signaling session with the gateway seeds a
    // copy of the clip, then the copy is damaged on disk: it serves those
    // bytes with the genuine tree, over WebRTC, to the page.
    const liarFile = path.join(tmp, "liar.mp4"), liarData = path.join(tmp, "liar");
    fs.writeFileSync(liarFile, content);
    const liar = start("lying booster", ["booster", "--data", liarData, "--listen", `127.0.0.1:${port()}`, "--http", `127.0.0.1:${port()}`,
      "--no-dht", "--gateway", base, "--webrtc-loopback"]);
    try {
      const sock = path.join(liarData, "booster.sock");
      for (let i = 0; i < 100 && !fs.existsSync(sock); i++) await sleep(100);
      const linkOut = execFileSync(bin, ["booster", "seed", "--data", liarData, liarFile], { encoding: "utf8" });
      if (!linkOut.includes(root)) throw new Error(`the liar seeds ${linkOut}, not ${root}`);
      const fd = fs.openSync(liarFile, "r+");
      const junk = randomBytes(clipSize - 65536);
      fs.writeSync(fd, junk, 0, junk.length, 65536); // all but the first 64 KiB
      fs.closeSync(fd);
      await sleep(1500); // the booster joins the swarm's room on the gateway
      const ctx = await browser.newContext();
      const page = await ctx.newPage();
      await page.goto(base + pagePath + "&autoplay=1");
      await until(page, "the MediaSource path", () => window.swarmgatePage && swarmgatePage.mode === "mse");
      await until(page, "the download to complete", () => swarmgatePage.last && swarmgatePage.last.done);
      await plays(page, "playback");
      const got = await page.evaluate(async ([root, mt]) => {
        const b = await (await fetch(`/stream/${root}?mt=${encodeURIComponent(mt)}`)).arrayBuffer();
        const d = await crypto.subtle.digest("SHA-256", b);
        return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, "0")).join("");
      }, [root, mt]);
      if (got !== sha256) throw new Error(`played ${got}, file ${sha256}`);
      const s = await page.evaluate(() => swarmgatePage.last);
      figures.liar_peers_dropped = s.peersDropped;
      if (s.peersDropped < 1) throw new Error(`the lying booster was not dropped: ${JSON.stringify(s.peers)}`);
      await ctx.close();
    } finally {
      liar.stopping = true; liar.kill("SIGTERM");
    }
  });

  await check("WebM video and MP3 audio play through the Service Worker, every byte the file's", async () => {
    const ctx = await browser.newContext();
    const page = await ctx.newPage();
    page.on("console", (m) => { if (m.type() === "error") console.error("page:", m.text()); });
    for (const m of media.filter((m) => !m.padded)) {
      await page.goto(base + m.path + "&autoplay=1");
      await until(page, `${m.name}: the Service Worker path`, () => window.swarmgatePage && swarmgatePage.mode === "sw");
      await plays(page, `${m.name}: playback`);
      await streamIsFile(page, m);
    }
    await ctx.close();
  });

  await check("the peer switch, remembered: a desktop page uploads to another page; hidden and paused for a while, it closes everything and sends nothing", async () => {
    // Browser-to-browser ICE here: with mDNS off (nothing may leave
    // loopback), Chromium signals its host candidates only to a page
    // that holds a media permission (browser-testing.md). On a LAN its
    // mDNS candidates need none.
    const ctx = await browser.newContext({ permissions: ["camera", "microphone"] });
    await ctx.addInitScript(instrument);
    const a = await ctx.newPage();
    a.on("console", (m) => { if (m.type() === "error") console.error("peer page:", m.text()); });
    const padded = media.find((m) => m.padded);
    if (!padded) throw new Error("needs the padded clip (a clip under 24 MiB)");
    const link = base + padded.path + "&autoplay=1&sg-hidden=1500";
    await a.goto(link);
    // The user turns the switch on: the page restarts as a peer and
    // remembers it across a reload.
    await until(a, "the peer switch", () => !document.getElementById("peer-switch").hidden);
    await a.click("#peer");
    await a.reload();
    await until(a, "the switch, remembered", () => document.getElementById("peer").checked && window.swarmgatePage && ["sw", "mse"].includes(swarmgatePage.mode));
    await until(a, "the download to complete", () => swarmgatePage.last && swarmgatePage.last.done);
    await sleep(1000);
    if (await a.evaluate(() => swarmgatePage.last.quiet || __net.pcs.every((pc) => pc.connectionState === "closed"))) throw new Error("a peer page left the swarm once done");
    // A leecher in another browser context (its own storage) gets the
    // video from the peer page rather than from the gateway.
    const ctx2 = await browser.newContext({ permissions: ["camera", "microphone"] });
    const b = await ctx2.newPage();
    await b.goto(base + padded.path + "&autoplay=1");
    await plays(b, "the second page's playback");
    await until(b, "the second page's download", () => swarmgatePage.last && swarmgatePage.last.done);
    const got = await b.evaluate(() => swarmgatePage.last);
    const up = await a.evaluate(() => swarmgatePage.last.uploaded);
    if (!(got.fromPeers > 0) || !(up > 0)) throw new Error(`the peer page uploaded ${up} bytes; the second page got ${got.fromPeers} from peers, ${got.fromGateway} from the gateway`);
    figures.peer_page_uploaded_bytes = up;
    figures.second_page_from_peers = got.fromPeers;
    figures.second_page_from_gateway = got.fromGateway;
    await ctx2.close();
    // Hidden and paused (the page sees what a browser shows it when its
    // tab goes to the background): after sg-hidden ms every connection
    // and the signaling session close, and nothing more is sent.
    const setHidden = (h) => a.evaluate((h) => {
      if (h) {
        document.getElementById("player").pause();
        Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
      } else {
        delete document.hidden; delete document.visibilityState;
      }
      document.dispatchEvent(new Event("visibilitychange"));
    }, h);
    await setHidden(true);
    await until(a, "every connection closed while hidden", () => swarmgatePage.mode === "closed" && __net.pcs.every((pc) => pc.connectionState === "closed" || pc.signalingState === "closed") && __net.sockets.every((s) => s.readyState === 3), null, 10000);
    const sent = await a.evaluate(() => __net.sent);
    await sleep(2000);
    const after = await a.evaluate(() => __net.sent);
    if (after !== sent) throw new Error(`a hidden page sent ${after - sent} messages after closing`);
    // Shown again, it comes back.
    await setHidden(false);
    await until(a, "the page back when shown", () => ["sw", "mse"].includes(swarmgatePage.mode) && swarmgatePage.handle);
    await ctx.close();
  });

  await check("a page whose peer connections never connect (UDP blocked) plays /raw/ after the deadline and says so", async () => {
    const ctx = await browser.newContext();
    // ICE with no candidate on either side: every connection stays
    // "connecting", as behind a firewall that drops UDP.
    await ctx.addInitScript(() => {
      const P = RTCPeerConnection.prototype, srd = P.setRemoteDescription;
      P.setRemoteDescription = function (d) { return srd.call(this, d && d.sdp ? { type: d.type, sdp: d.sdp.replace(/a=candidate[^\r\n]*\r?\n/g, "") } : d); };
      P.addIceCandidate = function () { return Promise.resolve(); };
    });
    const page = await ctx.newPage();
    const t0 = Date.now();
    await page.goto(base + pagePath + "&autoplay=1");
    await until(page, "the /raw/ fallback", () => window.swarmgatePage && swarmgatePage.mode === "raw" && /gateway over HTTP/.test(document.getElementById("mode").textContent), null, 20000);
    figures.no_peer_fallback_ms = Date.now() - t0;
    const conn = await page.evaluate(() => swarmgatePage.errors.join("; "));
    if (!/in time|deliver|size/i.test(conn)) throw new Error(`fell back for another reason: ${conn}`);
    figures.no_peer_fallback_reason = conn;
    const said = await page.textContent("#mode");
    if (!/no peer delivered the content in time/.test(said) || /stream:/.test(said)) throw new Error(`the page says: ${said}`);
    await plays(page, "playback from /raw/");
    await ctx.close();
  });

  await check("a page without WebRTC falls back to /raw/ and says so", async () => {
    const ctx = await browser.newContext();
    await ctx.addInitScript(() => { delete window.RTCPeerConnection; });
    const page = await ctx.newPage();
    await page.goto(base + pagePath + "&autoplay=1");
    await until(page, "the /raw/ fallback", () => window.swarmgatePage && swarmgatePage.mode === "raw" && /gateway over HTTP/.test(document.getElementById("mode").textContent));
    const src = await page.evaluate(() => document.getElementById("player").currentSrc);
    if (!src.includes("/raw/")) throw new Error(`player src ${src}`);
    await plays(page, "playback from /raw/");
    await ctx.close();
  });

  await check("publish from one page: the gateway's booster takes the whole copy, then a second page plays it with the first closed", async () => {
    // A file the gateway has never seen: the clip padded with random
    // bytes (players ignore bytes after the last box), written and hashed
    // in pieces (--publish-size may be 1 GiB).
    const pubFile = path.join(tmp, "published.mp4"), pubLen = clipSize + Math.max(1024, publishSize - clipSize);
    const pub = { length: pubLen }, hasher = createHash("sha256"), out = fs.openSync(pubFile, "w");
    for (let off = 0; off < pubLen;) {
      const piece = off === 0 ? content : randomBytes(Math.min(64 << 20, pubLen - off));
      fs.writeSync(out, piece); hasher.update(piece); off += piece.length;
    }
    fs.closeSync(out);
    const pubSha = hasher.digest("hex");
    const ctx1 = await browser.newContext();
    await ctx1.addInitScript(instrument);
    const p1 = await ctx1.newPage();
    const cdp1 = await ctx1.newCDPSession(p1);
    await cdp1.send("Runtime.enable");
    p1.on("console", (m) => { if (m.type() === "error") console.error("publish page:", m.text()); });
    p1.on("crash", () => console.error("publish page: crashed"));
    p1.on("pageerror", (e) => console.error("publish page error:", e.message));
    const sent = []; // every request of the page: the feed key must be in none
    p1.on("request", (r) => sent.push(Buffer.concat([Buffer.from(r.url()), r.postDataBuffer() || Buffer.alloc(0)])));
    await p1.goto(base + "/publish");
    const postText = "from the browser e2e ✓";
    await p1.fill("#text", postText);
    // UDP datagrams the kernel dropped in this namespace (full receive
    // queues), over the publish: loss the data channels do not see.
    const udpDrops = () => { try { const l = fs.readFileSync("/proc/net/snmp", "utf8").split("\n").filter((x) => x.startsWith("Udp:")); const k = l[0].split(/\s+/), v = l[1].split(/\s+/); return Number(v[k.indexOf("RcvbufErrors")]); } catch { return -1; } };
    const drops0 = udpDrops();
    const tp = Date.now();
    // The tab's memory while it hashes and uploads (issue 7: "never whole
    // in memory: a 1 GiB file works on a phone"): peaks, sampled each second.
    const peak = { wasm: 0, heap: 0, rss: 0 };
    const sampler = setInterval(() => {
      cdp1.send("Runtime.getHeapUsage").then((h) => { peak.heap = Math.max(peak.heap, h.usedSize); }).catch(() => {});
      p1.evaluate(() => window.swarmgateWasmBytes ? swarmgateWasmBytes() : 0).then((w) => { peak.wasm = Math.max(peak.wasm, w); }).catch(() => {});
      peak.rss = Math.max(peak.rss, rendererRSS());
      if (process.env.SG_TRACE_PUBLISH) p1.evaluate(() => JSON.stringify({ t: Math.round(performance.now()), wasm: window.swarmgateWasmBytes && swarmgateWasmBytes() >> 20, mem: window.swarmgate && swarmgate.mem && Object.fromEntries(Object.entries(swarmgate.mem()).map(([k, v]) => [k, k === "numGC" ? v : v >> 20])), phase: window.swarmgatePublish && swarmgatePublish.phase, up: window.swarmgatePublish && swarmgatePublish.uploaded })).then((x) => console.error("publish:", x)).catch(() => {});
    }, 1000);
    await p1.setInputFiles("#file", pubFile);
    await p1.waitForFunction(() => window.swarmgatePublish && swarmgatePublish.phase !== "loading" && swarmgatePublish.phase !== "hashing" && swarmgatePublish.phase !== "idle", null, { timeout: deadline, polling: 50 });
    figures.publish_bytes = pub.length;
    figures.publish_link_ms = Date.now() - tp; // picked to link shown (wasm load + hashing)
    try {
      await p1.waitForFunction(() => window.swarmgatePublish && (swarmgatePublish.safe || swarmgatePublish.phase === "failed"), null, { timeout: deadline, polling: 100 });
    } catch (e) {
      // What each end saw: the publisher's status (peers, engine counters)
      // and the gateway's swarm.
      const ps = await p1.evaluate(() => window.swarmgatePublish);
      const gs = ps.root ? await fetch(`${base}/api/swarm/${ps.root}`).then((r) => r.text()).catch((e) => String(e)) : "";
      throw new Error(`not safe: ${JSON.stringify(ps)}\ngateway: ${gs.slice(0, 3000)}`);
    }
    clearInterval(sampler);
    figures.publish_udp_rcvbuf_drops = udpDrops() - drops0;
    figures.publish_peak_wasm_mib = +(peak.wasm / 1048576).toFixed(1);
    figures.publish_peak_js_heap_mib = +(peak.heap / 1048576).toFixed(1);
    figures.publish_peak_renderer_rss_mib = +(peak.rss / 1048576).toFixed(1);
    const st = await p1.evaluate(() => window.swarmgatePublish);
    if (!st.safe) throw new Error(`publishing failed: ${st.error}`);
    if (!/safe to close/i.test(await p1.textContent("#safe"))) throw new Error("the page does not say it is safe to close");
    figures.publish_safe_ms = Date.now() - tp;
    figures.publish_uploaded_ratio = Number((st.uploaded / pub.length).toFixed(3));
    // What an upload beyond one copy went on: the publisher's engine counters.
    if (st.last) figures.publish_engine = (({ served, retransmits, timeouts, spurious, timeoutLosses, nacks, nackProbes, dropsSend, dropsRecv }) => ({ served, retransmits, timeouts, spurious, timeoutLosses, nacks, nackProbes, dropsSend, dropsRecv }))(st.last);
    figures.publish_heap_mib = Number(((await p1.evaluate(() => performance.memory && performance.memory.usedJSHeapSize)) / 1048576 || 0).toFixed(1));
    // What is live, not garbage not yet collected (--expose-gc).
    figures.publish_heap_live_mib = Number(((await p1.evaluate(() => { window.gc && gc(); return performance.memory && performance.memory.usedJSHeapSize; })) / 1048576 || 0).toFixed(1));
    figures.publish_go_refs = await p1.evaluate(() => window.swarmgateGoRefs && swarmgateGoRefs());
    figures.publish_wasm_mib = Number(((await p1.evaluate(() => window.swarmgateWasmBytes && swarmgateWasmBytes())) / 1048576 || 0).toFixed(1));
    // The gateway's side of it: chunks it got twice, data channel drops.
    const gm = await fetch(`${base}/metrics`).then((r) => r.text());
    figures.publish_gateway = Object.fromEntries([...gm.matchAll(/^swarmgate_(chunks_duplicate_total|webrtc_datagrams_dropped_total\{where="(?:send|recv)"\}) (\d+)/gm)].map((m) => [m[1].replace(/_total|\{where="|"\}/g, (x) => x[0] === "{" ? "_" : ""), Number(m[2])]));
    // The aim, 1.05 copies, is the figure above (publish_uploaded_ratio:
    // 1.000–1.044 in 11 runs since decision 65); on a busy machine the data
    // channel loses messages the engine must send again (1.051–1.065 in 3
    // of ~14 runs before it), so the test fails only past 1.10: a gross
    // regression, not the aim.
    if (st.uploaded < pub.length || st.uploaded > 1.10 * pub.length) throw new Error(`published page uploaded ${st.uploaded} bytes for ${pub.length} (engine: ${JSON.stringify(figures.publish_engine)}; gateway: ${JSON.stringify(figures.publish_gateway)})`);
    // The feed post, signed in the tab, reached the gateway's feed node,
    // which stores and shows only posts whose signature it verified.
    await until(p1, "the feed post", () => window.swarmgatePublish.feed || window.swarmgatePublish.feedError, null, 10000);
    const f = await p1.evaluate(() => window.swarmgatePublish.feed || { error: window.swarmgatePublish.feedError });
    if (f.error) throw new Error(`feed post: ${f.error}`);
    const fd = await (await fetch(`${base}/u/${f.uid}.json`)).json();
    const fp = fd.posts.find((x) => x.seq === f.seq);
    if (fd.uid !== f.uid || !fp || fp.text !== postText || !fp.links || fp.links[0].root !== st.root || fp.links[0].length !== pub.length)
      throw new Error(`/u/${f.uid}.json lacks the post of ${st.root}: ${JSON.stringify(fd)}`);
    if (!(await p1.textContent("#feedlink")).includes(fd.fingerprint)) throw new Error("the page does not show the uid's fingerprint");
    const feedPage = await (await fetch(`${base}/u/${f.uid}`)).text();
    if (!feedPage.includes(`/${st.root}?`) || !feedPage.includes("from the browser e2e")) throw new Error("/u/<uid> does not show the post");
    const seed = await p1.evaluate(() => localStorage.getItem("swarmgate.feed.key"));
    if (!seed || sent.some((b) => b.includes(seed) || b.includes(Buffer.from(seed, "hex")))) throw new Error("the feed key left the page (or is not kept)");
    await until(p1, "the publishing page to close its connections", () => __net.pcs.every((pc) => pc.connectionState === "closed" || pc.signalingState === "closed") && __net.sockets.every((s) => s.readyState === 3), null, 10000);
    await ctx1.close();
    const ctx2 = await browser.newContext();
    const p2 = await ctx2.newPage();
    await p2.goto(base + st.link + "&autoplay=1");
    await until(p2, "the swarm path", () => window.swarmgatePage && ["sw", "mse"].includes(swarmgatePage.mode));
    await plays(p2, "playback of the published video");
    // What the page plays is what was published; a file too big to hold
    // in a tab at once is checked as the gateway serves it instead.
    const got = pubLen <= 64 << 20 ? await p2.evaluate(async (root) => {
      const b = await (await fetch(`/stream/${root}?mt=video%2Fmp4`)).arrayBuffer();
      const d = await crypto.subtle.digest("SHA-256", b);
      return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, "0")).join("");
    }, st.root) : await (async () => {
      const h = createHash("sha256"), r = await fetch(`${base}/raw/${st.root}`);
      for await (const piece of r.body) h.update(piece);
      return h.digest("hex");
    })();
    if (got !== pubSha) throw new Error(`played ${got}, published ${pubSha}`);
    await ctx2.close();
  });

  await browser.close();

  await check("plain http on a LAN name (no Service Worker) plays through MediaSource", async () => {
    const b = await launch("MAP phone.test 127.0.0.1 , ");
    const page = await b.newPage();
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") console.error("phone page:", m.text()); });
    page.on("response", (r) => { if (r.status() >= 400) console.error("phone page: HTTP", r.status(), r.url()); });
    page.on("pageerror", (e) => console.error("phone page error:", e.message));
    await page.goto(`http://phone.test:${gwHTTP}${pagePath}&autoplay=1`);
    const secure = await page.evaluate(() => [window.isSecureContext, "serviceWorker" in navigator]);
    if (secure[0] || secure[1]) throw new Error(`phone.test is a secure context here: ${secure}`);
    await until(page, "the MediaSource path", () => window.swarmgatePage && swarmgatePage.mode === "mse");
    await plays(page, "playback through MediaSource");
    figures.mse_first_frame_ms = Math.round(await page.evaluate(() => swarmgatePage.firstFrameMs));
    // A seek through MediaSource lands: a frame at the target shows (the
    // gate reads only what that frame needs until then), and play goes on.
    figures.mse_seek_frame_ms = await seekFrame(page, 0.75, 10000);
    await until(page, "playback after the seek", () => { const v = document.getElementById("player"); return v.currentTime > 0.75 * v.duration + 0.5; });
    await until(page, "the status", () => swarmgatePage.last && swarmgatePage.last.storage);
    const kind = await page.evaluate(() => swarmgatePage.last.storage);
    if (kind !== "indexeddb") throw new Error(`an insecure page keeps chunks in ${kind}, want IndexedDB`);
    // WebM and MP3 go to MediaSource as they are, declared with the
    // file's own codecs; a seek back to the start plays again. The WebM
    // is read only 2 s ahead (sg-ahead), so a seek to 35 s lands where
    // nothing is buffered: it must read from the cluster its Cues give.
    const want = { "clip.webm": 'video/webm; codecs="vp8,vorbis"', "tone.mp3": "audio/mpeg" };
    for (const m of media.filter((m) => !m.padded)) {
      await page.goto(`http://phone.test:${gwHTTP}${m.path}&autoplay=1&sg-ahead=2`);
      await until(page, `${m.name}: the MediaSource path`, () => window.swarmgatePage && swarmgatePage.mode === "mse");
      await plays(page, `${m.name}: playback through MediaSource`);
      const type = await page.evaluate(() => swarmgatePage.mseType);
      if (type !== want[m.name]) throw new Error(`${m.name} declared to MediaSource as ${type}, want ${want[m.name]}`);
      if (m.name.endsWith(".webm")) {
        const before = await page.evaluate(() => { const v = document.getElementById("player"), b = v.buffered; return [v.duration, b.length ? b.end(b.length - 1) : 0]; });
        if (!(Math.abs(before[0] - 40) < 0.5) || before[1] >= 35) throw new Error(`WebM duration ${before[0]} s (want 40), buffered to ${before[1]} s (want < 35)`);
        const ms = await seekFrame(page, 35 / 40, 10000);
        const off = await page.evaluate(() => swarmgatePage.seekOffset);
        if (!(off > 256 * 1024)) throw new Error(`the seek to 35 s read from byte ${off}, not from a cluster its Cues give`);
        figures.webm_mse_seek_frame_ms = ms;
      }
      await page.evaluate(() => { const v = document.getElementById("player"); v.currentTime = 0.2; v.play().catch(() => {}); });
      await until(page, `${m.name}: playback after a seek back`, () => { const v = document.getElementById("player"); return !v.seeking && v.currentTime > 0.7 && v.currentTime < 2.5; });
    }
    await b.close();
  });
} catch (err) {
  console.log(`FAIL setup: ${err && err.stack || err}`);
  results.push({ name: "setup", ok: false });
} finally {
  stopAll();
}
console.log(JSON.stringify(figures));
const failed = results.filter((r) => !r.ok);
if (failed.length) { console.error("gateway log:\n" + gateway.log().slice(-4000)); }
// SWARMGATE_LOGS=DIR keeps every process's output (with SWARMGATE_DEBUG=1: the engine's trace).
if (process.env.SWARMGATE_LOGS) for (const p of procs) fs.writeFileSync(path.join(process.env.SWARMGATE_LOGS, `${p.tag}-${p.pid}.log`), p.log());
console.log(`${results.length - failed.length} passed, ${failed.length} failed`);
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(failed.length ? 1 : 0);
