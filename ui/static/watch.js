// swarmgate link page. Without this script the page still plays: the
// <video> streams /raw/ from the gateway. With it, the Go-WASM client
// fetches the content from the swarm over WebRTC and verifies every chunk
// against the Merkle tree in the tab; a Service Worker (secure pages) or
// MediaSource with mp4box.js (plain http, e.g. a phone on a LAN address)
// feeds the player; /raw/ remains the fallback, and the page says which.
(function () {
  "use strict";
  var page = document.querySelector("article.watch");
  if (!page) return;
  var D = page.dataset;
  var player = document.getElementById("player");
  var modeEl = document.getElementById("mode");
  var held = document.getElementById("held");
  var heldLabel = document.getElementById("held-label");
  var statusEl = document.getElementById("status");
  var canvas = document.getElementById("chunks");
  var transfer = document.getElementById("transfer");
  var peerBox = document.getElementById("peer");
  var PEER_KEY = "swarmgate.peer";
  var START_DEADLINE = 6000;  // ms for the swarm to prove the size before /raw/
  // numParam is the link's ?sg-NAME=N, a positive integer, else def.
  function numParam(name, def) { return Number((new RegExp("[?&]sg-" + name + "=(\\d+)").exec(location.search) || [])[1]) || def; }
  // ms hidden (and paused) before the page closes its connections; ?sg-hidden=MS sets it.
  var HIDDEN_QUIET = numParam("hidden", 30000);
  var state = { marks: {}, mode: "raw", reason: "", handle: null, size: -1, started: 0, firstFrameMs: -1, errors: [], reads: [] };
  window.swarmgatePage = state; // for tests and the curious
  window.swarmgateMark = function (k, at) { if (!state.marks[k]) mark(k, at); }; // the client's steps

  function autoplay() { return player.autoplay || /[?&]autoplay=1/.test(location.search); }
  function mark(k, at) { state.marks[k] = at === undefined ? Math.round(performance.now()) : at; }
  function say(text) { if (modeEl) modeEl.textContent = text; }
  function fmtBytes(n) {
    var u = ["B", "KiB", "MiB", "GiB", "TiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + u[i];
  }

  // ---- the chunk bar ----
  function draw(ranges, total) {
    if (!canvas || !total) return;
    var w = canvas.clientWidth || 300, h = canvas.height;
    canvas.width = w;
    var g = canvas.getContext("2d"), cs = getComputedStyle(document.body);
    g.fillStyle = cs.getPropertyValue("--line") || "#ccc";
    g.fillRect(0, 0, w, h);
    g.fillStyle = cs.getPropertyValue("--ok") || "green";
    (ranges || []).forEach(function (r) {
      var x0 = Math.floor(r[0] / total * w), x1 = Math.ceil((r[1] + 1) / total * w);
      g.fillRect(x0, 0, Math.max(1, x1 - x0), h);
    });
  }

  // ---- the gateway's progress (the /raw/ path) ----
  var pollTimer = 0, gatewayDone = false;
  function pollGateway() {
    pollTimer = 0;
    if (document.hidden || state.mode !== "raw") return;
    fetch(D.status, { cache: "no-store" }).then(function (r) { return r.ok ? r.json() : null; }).then(function (s) {
      if (!s) return;
      held.max = Math.max(s.total, 1); held.value = s.have;
      statusEl.textContent = s.have + " of " + s.total + " chunks verified · " + s.peers + " peers (" + s.seeders + " with a full copy)";
      draw(s.verified, s.total);
      gatewayDone = s.total > 0 && s.have === s.total;
    }).catch(function () {}).then(function () {
      if (!gatewayDone && !document.hidden && state.mode === "raw") pollTimer = setTimeout(pollGateway, 1000);
    });
  }

  // ---- the swarm client's progress ----
  var statusTimer = 0, last = { t: 0, bytes: 0 };
  function showStatus() {
    statusTimer = 0;
    var h = state.handle;
    if (!h) return;
    var s = JSON.parse(h.status(256));
    state.last = s;
    heldLabel.textContent = "Verified chunks held by this tab";
    held.max = Math.max(s.total, 1); held.value = s.have;
    draw(s.verified, s.total);
    var kinds = {};
    s.peers.forEach(function (p) { if (p.open) kinds[p.kind] = (kinds[p.kind] || 0) + 1; });
    var names = Object.keys(kinds).map(function (k) { return kinds[k] + " " + k + (kinds[k] > 1 ? "s" : ""); });
    document.getElementById("peers").textContent = names.length ? names.join(", ") : (s.quiet ? "closed (done)" : "connecting…");
    var bytes = s.fromPeers + s.fromGateway, now = performance.now();
    if (last.t) document.getElementById("speed").textContent = s.done ? "done" : fmtBytes(Math.max(0, (bytes - last.bytes) / ((now - last.t) / 1000))) + "/s";
    last = { t: now, bytes: bytes };
    document.getElementById("from-peers").textContent = fmtBytes(s.fromPeers);
    document.getElementById("from-gateway").textContent = fmtBytes(s.fromGateway);
    document.getElementById("uploaded").textContent = fmtBytes(s.uploaded);
    statusEl.textContent = s.have + " of " + s.total + " chunks verified in this tab" +
      (s.restored ? " · " + s.restored + " from this device's storage" : "") +
      (s.offline ? " · no network used" : s.done ? " · complete; connections closed" : "");
    transfer.hidden = false;
    if (s.error && state.mode !== "raw") { fallback("the swarm client stopped: " + s.error); return; }
    // The whole video is in this device's storage: the next visit opens no
    // early connection (load.js), the client plays it offline.
    if (s.done && s.storage && s.storage !== "memory") try { localStorage.setItem("swarmgate.held." + D.root, "1"); } catch (e) {}
    if (s.quiet) return; // nothing changes any more: stop polling
    if (!document.hidden) statusTimer = setTimeout(showStatus, 1000);
  }

  // ---- the fallback ----
  function fallback(reason) {
    if (state.mode === "raw" && state.reason) return;
    state.errors.push(reason);
    if (state.handle) { state.handle.close(); state.handle = null; }
    if (window.swarmgateEarlyDrop) window.swarmgateEarlyDrop(); // load.js's connection, if the client never took it
    state.mode = "raw"; state.reason = reason;
    // The words, not the Go package that said them ("stream: …").
    say("Playing from the gateway over HTTP: " + String(reason).replace(/^(?:[a-z]+: )+/, "") + ".");
    if (player) {
      var t = player.currentTime || 0;
      player.preload = "metadata";
      player.src = D.raw;
      if (t) player.currentTime = t;
      if (autoplay()) player.play().catch(function () {});
    }
    pollGateway();
  }

  // ---- loading the Go-WASM client (load.js) ----
  function loadWasm() { return window.swarmgateLoad(D.wasmExec, D.wasm); }

  function timeout(p, ms, what) {
    return Promise.race([p, new Promise(function (_, reject) { setTimeout(function () { reject(new Error(what)); }, ms); })]);
  }

  // ---- playback through the Service Worker ----
  function onWorkerMessage(e) {
    var m = e.data, port = e.ports && e.ports[0];
    if (!m || !port || m.root !== D.root) return;
    var h = state.handle;
    if (!h) { port.postMessage({ error: "the swarm client is closed" }); return; }
    if (m.swarmgate === "size") { port.postMessage({ size: state.size }); return; }
    if (m.swarmgate === "read") {
      var asked = Math.round(performance.now());
      h.read(m.offset, m.length, 30000).then(function (u8) {
        if (state.reads.length < 100) state.reads.push([asked, Math.round(performance.now()), m.offset, u8.byteLength]);
        port.postMessage({ data: u8.buffer }, [u8.buffer]);
      }, function (err) { port.postMessage({ error: String(err.message || err) }); });
    }
  }
  // The worker is registered while the client loads (start), not after:
  // a first visit installs and activates it in parallel with the wasm.
  var workerReady = null;
  function registerWorker() {
    var sw = navigator.serviceWorker;
    sw.addEventListener("message", onWorkerMessage);
    workerReady = sw.register("/sw.js", { scope: "/" }).then(function () { return sw.ready; }).then(function () {
      if (sw.controller) return;
      return timeout(new Promise(function (resolve) { sw.addEventListener("controllerchange", resolve, { once: true }); }), 3000, "the Service Worker did not take control");
    });
    workerReady.catch(function () {}); // reported by playWorker
  }
  function playWorker() {
    return workerReady.then(function () {
      state.mode = "sw";
      mark("src");
      player.src = "/stream/" + D.root + "?mt=" + encodeURIComponent(D.type);
    });
  }

  // ---- playback through MediaSource ----
  // MP4 is remuxed to fragments by mp4box.js, loaded while the client loads.
  var mp4box = null;
  function loadMP4Box() { if (!mp4box) mp4box = import(D.mp4box); return mp4box; }
  function playMSE() {
    var mp4 = /mp4|quicktime/.test(D.type);
    if (!mp4 && !/webm|mpeg|mp3|aac/.test(D.type)) return Promise.reject(new Error("MediaSource plays MP4, WebM, MP3 and AAC only"));
    if (!mp4) return playMSEDirect();
    return loadMP4Box().then(function (MP4Box) {
      var ms = new MediaSource(), h = state.handle, size = state.size;
      // reading: the generation (gen, one per seek) of the read in flight, -1 none.
      var file = MP4Box.createFile(), bufs = {}, queue = {}, pos = 0, reading = -1, ended = false, gen = 0, seeked = false, started = false;
      var mediaEnd = Infinity; // past the last sample of any track played (from the moov)
      state.mode = "mse";
      player.src = URL.createObjectURL(ms);
      // The gate: until the frame the player waits for shows (the first
      // one, a seek's), the page reads, and the swarm fetches, only the
      // bytes that frame needs, then nothing: the tab's one thread is the
      // player's while it appends and decodes, not busy verifying the
      // rest of the file (decision 61). ?sg-gate=0 turns it off.
      var limit = Infinity, gating = !/[?&]sg-gate=0/.test(location.search);
      // Samples per fragment, and bytes (setSegmentOptions below): a
      // keyframe or a busy scene makes a few large samples, which then
      // need not wait for 15.
      var FRAG = 15, FRAG_BYTES = 128 * 1024;
      // offsetFor is the byte offset past what the frame at time t needs
      // in every track: its samples up to t and one more, to the end of
      // the fragment that holds them (mp4box cuts one after every 15th
      // sample of a track), for the fragment to be made at all.
      function offsetFor(t) {
        var end = 0;
        Object.keys(queue).forEach(function (id) {
          var trak = file.getTrackById(Number(id)), sm = trak && trak.samples;
          if (!sm || !sm.length) return;
          var lo = 0, hi = sm.length;
          while (lo < hi) { var mid = (lo + hi) >> 1; if (sm[mid].dts / sm[mid].timescale < t) lo = mid + 1; else hi = mid; }
          var j = Math.min(lo + 1, sm.length - 1);
          var e = Math.min(Math.ceil((j + 1) / FRAG) * FRAG - 1, sm.length - 1);
          // A fragment also ends once its samples reach FRAG_BYTES.
          for (var k = j, sum = 0; k < e; k++) { sum += sm[k].size; if (sum >= FRAG_BYTES) { e = k; break; } }
          end = Math.max(end, sm[e].offset + sm[e].size);
        });
        return end > 0 ? end : Infinity;
      }
      // The player's renderers preroll past the frame (Chromium's want a
      // few decoded frames and some audio): the gate is AHEAD s of media
      // past it, and STEP s more each time the feed has waited at it for
      // STALL ms without the frame showing, so no player can wait on it
      // for ever.
      var AHEAD = 0.3, AHEAD_FIRST = 0.1, STEP = 0.3, STALL = 250, gateT = 0, stallTimer = 0;
      function setLimit(l) {
        limit = l;
        if (h.hold && limit < Infinity) h.hold(true, limit);
      }
      function gate(t, ahead) {
        if (!gating || !isFinite(t)) return;
        gateT = t + ahead;
        setLimit(offsetFor(gateT));
      }
      function gateStalled() {
        if (stallTimer || limit === Infinity) return;
        stallTimer = setTimeout(function () {
          stallTimer = 0;
          if (limit === Infinity) return;
          gateT += STEP;
          setLimit(Math.max(limit, offsetFor(gateT)));
          feed();
        }, STALL);
      }
      function ungate() {
        clearTimeout(stallTimer); stallTimer = 0;
        if (limit === Infinity) return;
        limit = Infinity;
        feed();
      }
      state.ungate = ungate;
      // finish: everything is read; mp4box makes the last fragments once
      // it segments (at once, or when the moov has been parsed).
      function finish() {
        ended = true;
        if (started) file.flush();
      }
      // Where the feed is, for tests and the curious.
      state.feed = function () {
        var b = player.buffered, r = [];
        for (var i = 0; i < b.length; i++) r.push([+b.start(i).toFixed(2), +b.end(i).toFixed(2)]);
        return { pos: pos, limit: limit === Infinity ? -1 : limit, reading: reading, ended: ended, gen: gen, buffered: r,
          queued: Object.keys(queue).map(function (id) { return queue[id].length; }) };
      };
      function pump(id) {
        var sb = bufs[id], q = queue[id];
        // Segments cut before the latest seek are for the old position:
        // dropped, so the new position's go first (init segments stay).
        while (q.length && q[0].gen >= 0 && q[0].gen < gen) q.shift();
        if (!sb || sb.updating || !q.length) return;
        var s = q.shift();
        if (seeked && s.gen === gen && !state.marks["seekAppend" + id]) mark("seekAppend" + id);
        if (s.gen === 0 && !state.marks["append" + id]) mark("append" + id);
        sb.appendBuffer(s.buf);
      }
      function ahead() {
        var b = player.buffered, t = player.currentTime;
        for (var i = 0; i < b.length; i++) if (b.start(i) <= t + 0.5 && b.end(i) > t) return b.end(i) - t;
        return 0;
      }
      function feed() {
        if (reading === gen || ended || !state.handle) return;
        if (ahead() > 30) { setTimeout(feed, 500); return; }
        if (pos >= limit) { gateStalled(); return; } // the gate: ungate() feeds on
        // Nothing past the last sample goes to mp4box: bytes after the
        // media (trailing boxes, or junk) would be kept whole while it
        // waited for a box to complete.
        if (pos >= mediaEnd) { finish(); return; }
        reading = gen;
        var g = gen, at = pos, asked = Math.round(performance.now()), n = Math.min(256 * 1024, limit - pos, mediaEnd - pos);
        // Well ahead of the player, wait for the whole piece: one read
        // (a Promise, a copy, an mp4box parse) per 256 KiB instead of one
        // per data channel message.
        var least = limit === Infinity && ahead() > 5 ? n : 0;
        h.read(at, n, 30000, least).then(function (u8) {
          if (reading === g) reading = -1;
          if (state.reads.length < 100) state.reads.push([asked, Math.round(performance.now()), at, u8.byteLength]);
          if (g !== gen) { feed(); return; }
          if (!u8.byteLength) { finish(); return; }
          if (seeked && !state.marks.seekData) mark("seekData");
          var next = file.appendBuffer(MP4Box.MP4BoxBuffer.fromArrayBuffer(u8.buffer, at));
          pos = next > at ? next : at + u8.byteLength;
          if (pos >= size) { finish(); return; }
          feed();
        }, function (err) {
          if (reading === g) reading = -1;
          if (g !== gen) { feed(); return; } // aborted by a seek
          fallback("the swarm did not deliver (" + err.message + ")");
        });
      }
      return new Promise(function (resolve, reject) {
        // Reading starts at once: the moov is parsed while the MediaSource
        // opens, not after.
        var opened = new Promise(function (res) { ms.addEventListener("sourceopen", res, { once: true }); });
        file.onError = function (e) { reject(new Error("mp4box: " + e)); };
        file.onReady = function (info) {
          // Segmentation starts at once (mp4box would skip the mdat it was
          // not asked for); the SourceBuffers come when the MediaSource is
          // open, and the segments made until then wait in their queues.
          mark("moov");
          var types = {};
          info.tracks.forEach(function (t) {
            var type = (t.type === "audio" || t.audio ? "audio" : "video") + '/mp4; codecs="' + t.codec + '"';
            if (!MediaSource.isTypeSupported(type)) return;
            types[t.id] = type; queue[t.id] = [];
            // Fragments of 15 samples wherever the keyframes are: aligned to them
            // (mp4box's default), a fragment spans a whole GOP (2 s here), so the
            // first frame and a seek's waited for the data up to the next one.
            file.setSegmentOptions(t.id, null, { nbSamples: FRAG, sizePerSegment: FRAG_BYTES, rapAlignement: false });
          });
          if (!Object.keys(types).length) { reject(new Error("no track this browser plays")); return; }
          file.initializeSegmentation("per-track").forEach(function (s) { queue[s.id].push({ buf: s.buffer, gen: -1 }); });
          if (!info.isFragmented) { // a fragmented file's samples come with its fragments
            var last = 0;
            Object.keys(types).forEach(function (id) {
              var sm = file.getTrackById(Number(id)).samples || [];
              if (sm.length) last = Math.max(last, sm[sm.length - 1].offset + sm[sm.length - 1].size);
            });
            if (last) mediaEnd = last;
          }
          file.start();
          started = true;
          if (ended) file.flush(); // all read already (a small file)
          gate(player.currentTime || 0, AHEAD_FIRST); // the first frame wants less than a seek's preroll
          opened.then(function () {
            if (info.duration && info.timescale) ms.duration = info.duration / info.timescale;
            Object.keys(types).forEach(function (id) {
              var sb = ms.addSourceBuffer(types[id]);
              bufs[id] = sb;
              sb.addEventListener("updateend", function () {
                if (state.marks["seekAppend" + id] && !state.marks["seekAppended" + id]) mark("seekAppended" + id);
                if (state.marks["append" + id] && !state.marks["appended" + id]) mark("appended" + id);
                pump(id);
              });
              pump(id);
            });
            resolve();
          }).catch(reject);
        };
        file.onSegment = function (id, user, buffer, next) {
          // Samples in a segment are no longer needed by mp4box: without
          // this it keeps every byte it was given (the whole file).
          file.releaseUsedSamples(id, next);
          if (seeked && !state.marks.seekSegment) mark("seekSegment");
          if (queue[id]) { queue[id].push({ buf: buffer, gen: gen }); pump(id); }
        };
        player.addEventListener("seeking", function () {
          if (!started) return;
          var r = file.seek(player.currentTime, true);
          gen++; pos = r.offset; ended = false; seeked = true;
          if (h.abort) h.abort(); // a read waiting at the old position would hold the playhead there
          mark("seek"); state.reads = []; // the seek's own reads, for the timeline (--trace)
          // Until the frame there shows, the tab fetches only what the
          // player needs next: the rest of the download would keep the
          // page's thread (where the player's events run) busy.
          var held = h.hold && !/[?&]sg-(seek)?hold=0/.test(location.search);
          if (held) h.hold(true);
          gate(player.currentTime, AHEAD);
          player.addEventListener("seeked", function () {
            if (held && state.handle) state.handle.hold(false);
            ungate();
            if (!state.marks.seeked) mark("seeked");
          }, { once: true });
          feed();
        });
        feed();
      });
    });
  }
  // WebM and MPEG audio through MediaSource need no remuxing: the bytes
  // are appended in order. The SourceBuffer is declared with the file's own
  // codecs (a WebM's CodecIDs, read from its track headers by webm.mjs), so
  // a file the browser cannot decode fails here and plays from /raw/
  // instead; a WebM's duration is set, so the player can seek anywhere.
  // The page reads at most DIRECT_AHEAD s (?sg-ahead=S) of media past the
  // playhead (the browser evicts what is behind it as the buffer fills).
  // A seek to a time not buffered reads from the cluster its Cues give
  // (read once, at the first such seek); without Cues (MP3, a WebM without
  // them) a seek back reads again from the head and a seek ahead waits for
  // the reading to get there (decision 62).
  var DIRECT_AHEAD = numParam("ahead", 30), DIRECT_HEAD = 64 * 1024;
  var webm = null;
  function loadWebM() { if (!webm) webm = import(D.webm); return webm; }
  function playMSEDirect() {
    var ms = new MediaSource(), h = state.handle, size = state.size, isWebM = /webm/.test(D.type);
    state.mode = "mse";
    player.src = URL.createObjectURL(ms);
    // The head is read (and webm.mjs loaded) while the MediaSource opens.
    var opened = new Promise(function (res) { ms.addEventListener("sourceopen", res, { once: true }); });
    return Promise.all([h.read(0, Math.min(size, DIRECT_HEAD), 30000, Math.min(size, DIRECT_HEAD)), opened, isWebM ? loadWebM() : null]).then(function (v) {
      var W = v[2], info = W ? W.head(v[0]) : null;
      var type = W ? (info ? info.type : "") : /mpeg|mp3/.test(D.type) ? "audio/mpeg" : /aac/.test(D.type) ? "audio/aac" : "";
      if (!type) throw new Error("no codec found in the " + D.type + " file's header");
      if (!MediaSource.isTypeSupported(type)) throw new Error("this browser's MediaSource cannot play " + type);
      // busy: a read, or its bytes waiting for a full SourceBuffer, is on
      // its way (one at a time: the bytes must go in order).
      var sb = ms.addSourceBuffer(type), pos = 0, gen = 0, busy = false, waiting = false, seekGen = 0, cuesP = null;
      if (info && info.duration > 0) ms.duration = info.duration;
      state.mseType = type;
      function buffered(t) {
        var b = sb.buffered;
        for (var i = 0; i < b.length; i++) if (t >= b.start(i) && t <= b.end(i)) return b.end(i);
        return -1;
      }
      function next(g) {
        if (g !== gen || busy || ms.readyState === "closed" || sb.updating) return;
        if (pos >= size) { try { ms.endOfStream(); } catch (e) {} return; }
        var end = buffered(player.currentTime);
        if (end - player.currentTime > DIRECT_AHEAD) {
          if (!waiting) { waiting = true; player.addEventListener("timeupdate", function () { waiting = false; next(gen); }, { once: true }); }
          return;
        }
        busy = true;
        h.read(pos, 256 * 1024, 30000).then(function (u8) {
          if (g !== gen) return;
          if (!u8.byteLength) { busy = false; pos = size; next(g); return; }
          append(g, u8);
        }, function (err) {
          if (g === gen) fallback("the swarm did not deliver (" + (err && err.message || err) + ")");
        });
      }
      // append hands u8 to the SourceBuffer; a full one (the browser
      // could not evict enough behind the playhead) is tried again as
      // playback moves on.
      function append(g, u8) {
        if (g !== gen || ms.readyState === "closed") return;
        try {
          sb.appendBuffer(u8);
        } catch (err) {
          if (err && err.name === "QuotaExceededError") { setTimeout(function () { append(g, u8); }, 500); return; }
          fallback("the player refused the stream (" + (err && err.message || err) + ")");
          return;
        }
        pos += u8.byteLength;
        busy = false;
        sb.addEventListener("updateend", function () { next(g); }, { once: true });
      }
      // cueList reads the WebM's Cues once: [[s, offset], …] or null.
      function cueList() {
        if (!info || info.cues < 0 || info.cues >= size) return Promise.resolve(null);
        if (!cuesP) {
          var n0 = Math.min(16, size - info.cues);
          cuesP = h.read(info.cues, n0, 30000, n0).then(function (hb) {
            var n = W.cuesSize(hb);
            if (n < 0 || info.cues + n > size) return null;
            return h.read(info.cues, n, 30000, n).then(function (cb) {
              var l = W.cues(cb, info.segment, info.scale, info.cluster);
              return l.length ? l : null;
            });
          }).catch(function () { return null; });
        }
        return cuesP;
      }
      // restart reads on from off, dropping what was on its way.
      function restart(off) {
        gen++; pos = off; busy = false;
        if (h.abort) h.abort();
        var go = function () { try { sb.abort(); } catch (e) {} next(gen); };
        if (sb.updating) sb.addEventListener("updateend", go, { once: true }); else go();
      }
      player.addEventListener("seeking", function () {
        if (buffered(player.currentTime) >= 0 || ms.readyState === "closed") return;
        var my = ++seekGen;
        cueList().then(function (list) {
          var t = player.currentTime;
          if (my !== seekGen || buffered(t) >= 0 || ms.readyState === "closed") return;
          var off = list ? W.offsetAt(list, t) : -1;
          if (off < 0) {
            var b = sb.buffered;
            if (b.length && t >= b.end(b.length - 1)) { next(gen); return; } // ahead: the reading (paused, perhaps, at DIRECT_AHEAD) goes on there
            off = 0; // behind what was read: from the head
          }
          state.seekOffset = off;
          restart(off);
        });
      });
      next(gen);
    });
  }

  // ---- start ----
  function start() {
    if (!player) return;
    if (!window.WebAssembly || !window.RTCPeerConnection) { fallback("this browser has no WebRTC or WebAssembly"); return; }
    var canSW = window.isSecureContext && "serviceWorker" in navigator && !/[?&]sg-sw=0/.test(location.search);
    var useMSE = !!window.MediaSource && !/[?&]sg-mse=0/.test(location.search);
    var mp4 = /mp4|quicktime/.test(D.type);
    // MP4 plays through MediaSource wherever the browser has it: the
    // player then needs only the init segment and one fragment for its
    // first frame, where the Service Worker's progressive stream makes it
    // probe about 2 MB first (decision 50). The Service Worker plays the
    // rest (and MP4 where MediaSource is missing or refuses the codecs).
    var useSW = canSW && !(mp4 && useMSE);
    if (!canSW && !useMSE) { fallback("this browser has neither Service Workers nor MediaSource"); return; }
    // The swarm takes over from /raw/ before the player fetched much.
    // The page's HTML asks for nothing (preload="none": the player
    // would fetch /raw/ while the client starts); the swarm's source
    // loads as /raw/ would have.
    player.removeAttribute("src"); player.preload = "metadata"; player.load();
    state.started = performance.now();
    say("Connecting to the swarm…");
    var signal = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/signal";
    mark("start");
    if (canSW && !workerReady) registerWorker(); // the fallback of MediaSource too
    if (!useSW && mp4) loadMP4Box().catch(function () {});
    // ?sg-worker=1: the client in a dedicated worker (docs/decisions.md 55).
    var inWorker = /[?&]sg-worker=1/.test(location.search) && !!window.swarmgateWorkerOK && window.swarmgateWorkerOK();
    var client = inWorker
      ? window.swarmgateWorker({ worker: D.worker, wasmExec: D.wasmExec, wasm: D.wasm, load: D.load })
      : loadWasm().then(function () { return window.swarmgate; });
    timeout(client, START_DEADLINE, "the client did not load in time").then(function (api) {
      mark("wasm");
      state.worker = inWorker;
      var lm = window.swarmgateLoadMarks || {};
      Object.keys(lm).forEach(function (k) { state.marks["wasm_" + k] = lm[k]; });
      return api.watch({ link: location.href, signal: signal, peer: !!(peerBox && peerBox.checked), debug: /[?&]sg-debug=1/.test(location.search) });
    }).then(function (h) {
      state.handle = h;
      // Until the first frame, fetch only what the player needs next.
      if (h.hold && !/[?&]sg-hold=0/.test(location.search)) h.hold(true);
      mark("joined");
      showStatus();
      return h.size(START_DEADLINE);
    }).then(function (size) {
      state.size = size;
      mark("size");
      var em = window.swarmgateEarlyMarks || {};
      Object.keys(em).forEach(function (k) { state.marks["early_" + k] = em[k]; });
      if (useSW) return playWorker();
      return playMSE().catch(function (err) {
        if (!canSW) throw err;
        state.errors.push("MediaSource: " + (err && err.message || err));
        return playWorker();
      });
    }).then(function () {
      if (state.handle && state.handle.offline) say("Playing from this device's storage, every chunk verified again in this tab; no network used" + (state.mode === "mse" ? " (MediaSource)." : "."));
      else say("Streaming from the swarm: every chunk verified in this tab" + (state.mode === "mse" ? " (MediaSource)." : "."));
      watchFrames();
      if (autoplay()) player.play().catch(function () {});
    }).catch(function (err) {
      fallback(String(err && err.message || err));
    });
  }

  if (player) ["loadstart", "loadedmetadata", "loadeddata", "canplay", "playing", "waiting", "stalled", "canplaythrough"].forEach(function (ev) {
    player.addEventListener(ev, function () { if (!state.marks[ev] && state.mode !== "raw") mark(ev); });
  });

  function watchFrames() {
    function tick() {
      if (player.readyState >= 2) {
        state.firstFrameMs = performance.now() - state.started; state.firstFrameNavMs = performance.now();
        if (state.handle && state.handle.hold) state.handle.hold(false);
        if (state.ungate) state.ungate();
        return;
      }
      requestAnimationFrame(tick);
    }
    requestAnimationFrame(tick);
    player.addEventListener("error", function () {
      if (state.mode !== "raw") fallback("the player could not play the swarm's stream");
    });
  }

  // A hidden page goes quiet; it resumes when shown again.
  var hideTimer = 0;
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      hideTimer = setTimeout(function () {
        if (state.handle && state.mode !== "raw" && player.paused) { state.handle.close(); state.handle = null; state.mode = "closed"; say("Paused in the background: connections closed."); }
      }, HIDDEN_QUIET);
      return;
    }
    clearTimeout(hideTimer);
    if (state.mode === "closed") start();
    else if (state.mode === "raw" && !pollTimer) pollGateway();
    else if (state.handle && !statusTimer) showStatus();
  });

  // The peer switch (remembered): a desktop may upload to others.
  if (peerBox) {
    document.getElementById("peer-switch").hidden = false;
    try { peerBox.checked = localStorage.getItem(PEER_KEY) === "1"; } catch (e) {}
    peerBox.addEventListener("change", function () {
      try { localStorage.setItem(PEER_KEY, peerBox.checked ? "1" : "0"); } catch (e) {}
      if (state.handle) { state.handle.close(); state.handle = null; start(); }
    });
  }

  // Sharing.
  var url = location.origin + location.pathname + location.search.replace(/([?&])(sg-[a-z]+|autoplay)=[^&]*&?/g, "$1").replace(/[?&]$/, "");
  var copy = document.getElementById("copy");
  if (navigator.clipboard && copy) {
    copy.hidden = false;
    copy.addEventListener("click", function () { navigator.clipboard.writeText(url).then(function () { copy.textContent = "Copied"; }); });
  }
  var share = document.getElementById("webshare");
  if (navigator.share && share) {
    share.hidden = false;
    share.addEventListener("click", function () { navigator.share({ title: document.title, url: url }).catch(function () {}); });
  }

  if (/[?&]sg-p2p=0/.test(location.search)) fallback("asked for by the link");
  else start();
})();
