// swarmgateLoad(wasmExec, wasm) loads the Go-WASM client once per page:
// Go's wasm_exec.js, then the module; resolves when it has defined
// globalThis.swarmgate (it calls swarmgateReady). Shared by watch.js and
// publish.js.
(function () {
  "use strict";
  var ready = null;
  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src; s.onload = resolve; s.onerror = function () { reject(new Error("could not load " + src)); };
      document.head.appendChild(s);
    });
  }
  window.swarmgateLoad = function (wasmExec, wasm) {
    if (ready) return ready;
    // The module compiles while wasm_exec.js loads (and, on the link
    // page, while the page parses: see the end of this file).
    var mod = WebAssembly.compileStreaming
      ? WebAssembly.compileStreaming(fetch(wasm))
      : fetch(wasm).then(function (r) { return r.arrayBuffer(); }).then(function (b) { return WebAssembly.compile(b); });
    var marks = window.swarmgateLoadMarks = { load: Math.round(performance.now()) }; // the timeline, for tests
    mod.then(function () { marks.compiled = Math.round(performance.now()); }, function () {});
    ready = Promise.all([loadScript(wasmExec), mod]).then(function (v) {
      return new Promise(function (resolve, reject) {
        window.swarmgateReady = resolve;
        var go = new Go();
        WebAssembly.instantiate(v[1], go.importObject).then(function (inst) {
          marks.instantiated = Math.round(performance.now());
          // The Go heap's linear memory (it only grows): for tests and the curious.
          window.swarmgateWasmBytes = function () { return inst.exports.mem.buffer.byteLength; };
          window.swarmgateGoRefs = function () { var n = 0, b = 0; go._values.forEach(function (v) { if (v !== undefined) { n++; if (v && v.byteLength) b += v.byteLength; } }); return [n, b]; };
          go.run(inst);
        }, reject);
      });
    });
    return ready;
  };
  // swarmgateWorker(urls) starts the watch client in a dedicated Worker
  // (worker.js; docs/decisions.md 55) and resolves with an object whose
  // watch(opts) gives a handle like swarmgate.watch's: offline, size(ms),
  // read(off, len, ms, least), abort(), hold(on, end), status(cells) (the latest answer: the
  // next is asked for at each call), close(). The page keeps the peer
  // connections the worker asks for and hands each data channel over.
  var worker = null, transferOK;
  // swarmgateWorkerOK tells whether this browser can run the client in a
  // worker: it must have workers and be able to transfer a data channel
  // (Chromium can; a browser that cannot keeps the client on the page).
  window.swarmgateWorkerOK = function () {
    if (transferOK !== undefined) return transferOK;
    transferOK = false;
    if (!window.Worker || !window.RTCPeerConnection || !window.MessageChannel) return false;
    var pc = null, mc = null;
    try {
      pc = new RTCPeerConnection();
      var dc = pc.createDataChannel("probe");
      mc = new MessageChannel();
      mc.port1.postMessage(dc, [dc]);
      transferOK = true;
    } catch (e) {
      transferOK = false;
    }
    if (mc) { mc.port1.close(); mc.port2.close(); }
    if (pc) pc.close();
    return transferOK;
  };
  window.swarmgateWorker = function (urls) {
    if (worker) return worker;
    var w = new Worker(urls.worker), calls = new Map(), next = 1, pcs = new Map();
    var marks = window.swarmgateLoadMarks = { load: Math.round(performance.now()) };
    function call(msg, transfer) {
      return new Promise(function (resolve, reject) {
        msg.id = next++;
        calls.set(msg.id, { resolve: resolve, reject: reject });
        w.postMessage(msg, transfer || []);
      });
    }
    function state(pc) {
      function desc(d) { return d ? { type: d.type, sdp: d.sdp } : null; }
      return { connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState, iceGatheringState: pc.iceGatheringState,
        signalingState: pc.signalingState, localDescription: desc(pc.localDescription), remoteDescription: desc(pc.remoteDescription) };
    }
    function cand(c) {
      if (!c) return null;
      return { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex, usernameFragment: c.usernameFragment, foundation: c.foundation,
        priority: c.priority, address: c.address, protocol: c.protocol, port: c.port, type: c.type, component: c.component,
        relatedAddress: c.relatedAddress, relatedPort: c.relatedPort, tcpType: c.tcpType };
    }
    // What the worker asks of the page: its peer connections.
    var ops = {
      pc: function (id, config) {
        var pc = new RTCPeerConnection(config || {});
        pcs.set(id, pc);
        ["connectionstatechange", "iceconnectionstatechange", "icegatheringstatechange", "signalingstatechange", "negotiationneeded"].forEach(function (ev) {
          pc.addEventListener(ev, function () { w.postMessage({ t: "pcev", pc: id, ev: ev, st: state(pc) }); });
        });
        pc.addEventListener("icecandidate", function (e) { w.postMessage({ t: "pcev", pc: id, ev: "icecandidate", st: state(pc), c: cand(e.candidate) }); });
        return null;
      },
      dc: function (id, dcid, label, init) {
        var dc = pcs.get(id).createDataChannel(label, init);
        w.postMessage({ t: "dc", dc: dcid, channel: dc }, [dc]);
        return null;
      },
      offer: function (id) { return pcs.get(id).createOffer().then(function (d) { return { type: d.type, sdp: d.sdp }; }); },
      answer: function (id) { return pcs.get(id).createAnswer().then(function (d) { return { type: d.type, sdp: d.sdp }; }); },
      local: function (id, d) { var pc = pcs.get(id); return pc.setLocalDescription(d || undefined).then(function () { return state(pc); }); },
      remote: function (id, d) { var pc = pcs.get(id); return pc.setRemoteDescription(d).then(function () { return state(pc); }); },
      cand: function (id, c) { return pcs.get(id).addIceCandidate(c || undefined).then(function () { return null; }); },
      close: function (id) { var pc = pcs.get(id); pcs.delete(id); if (pc) pc.close(); return null; }
    };
    var onReady;
    var ready = new Promise(function (resolve, reject) { onReady = { resolve: resolve, reject: reject }; });
    w.onmessage = function (e) {
      var m = e.data;
      if (m.t === "ret") {
        var c = calls.get(m.id);
        if (!c) return;
        calls.delete(m.id);
        if (m.ok) c.resolve(m.v); else c.reject(new Error(m.err));
      } else if (m.t === "call") {
        var f = ops[m.op];
        Promise.resolve().then(function () {
          if (!f) throw new Error("no such operation " + m.op);
          if (m.op !== "pc" && !pcs.has(m.args[0])) throw new Error("the peer connection is closed");
          return f.apply(null, m.args);
        }).then(function (v) { w.postMessage({ t: "ret", id: m.id, ok: true, v: v }); },
          function (err) { w.postMessage({ t: "ret", id: m.id, ok: false, err: String(err && err.message || err) }); });
      } else if (m.t === "mark") {
        if (window.swarmgateMark) window.swarmgateMark(m.k, Math.round(m.at - performance.timeOrigin));
      } else if (m.t === "ready") {
        marks.ready = Math.round(performance.now()); // Go started in the worker
        onReady.resolve();
      } else if (m.t === "fail") {
        onReady.reject(new Error(m.err));
      }
    };
    w.onerror = function (e) { onReady.reject(new Error("the worker failed: " + (e.message || "error"))); };
    w.postMessage({ t: "init", wasmExec: new URL(urls.wasmExec, location.href).href, wasm: new URL(urls.wasm, location.href).href, load: new URL(urls.load, location.href).href });
    worker = ready.then(function () {
      return {
        watch: function (opts) {
          return call({ t: "watch", opts: opts }).then(function (r) {
            var last = JSON.stringify({ length: -1, have: 0, total: 0, verified: [], peers: [], fromGateway: 0, fromPeers: 0, uploaded: 0, done: false, quiet: false });
            function op(name, args) { return call({ t: "op", hid: r.hid, op: name, args: args }); }
            return {
              offline: r.offline,
              size: function (ms) { return op("size", [ms]); },
              read: function (off, len, ms, least) { return op("read", [off, len, ms, least || 0]); },
              hold: function (on, end) { op("hold", [!!on, +end || 0]).catch(function () {}); },
              abort: function () { op("abort", []).catch(function () {}); },
              status: function (cells) { op("status", [cells]).then(function (s) { last = s; }, function () {}); return last; },
              close: function () { op("close", []).catch(function () {}); pcs.forEach(function (pc) { pc.close(); }); pcs.clear(); }
            };
          });
        }
      };
    });
    return worker;
  };

  // The early connection (decision 58): while the module downloads and
  // compiles, the page opens the signaling session as a leecher, joins the
  // swarm and offers a connection to the gateway that served it (and to
  // the peers the broker lists, up to EARLY_PEERS); the Go client adopts
  // all of it when it starts (swarmgateEarlyTake).
  // The data channel is the one internal/rtc makes: negotiated, ID 0,
  // unordered, no retransmissions. Nothing else is sent: a leecher is
  // never listed, so no one offers to it, and Go sends the first datagram.
  var early = null;
  var EARLY_PEERS = 4; // internal/client's MaxPeers: the peers the client connects to
  function earlyConnect(signal, root, gateway) {
    var e = { url: signal, msgs: [], ws: null, conns: [], taken: false };
    var marks = window.swarmgateEarlyMarks = { start: Math.round(performance.now()) }; // the timeline, for tests
    function mark(k) { if (!(k in marks)) marks[k] = Math.round(performance.now()); }
    e.mark = mark;
    var ws;
    try { ws = new WebSocket(signal); } catch (err) { return null; }
    e.ws = ws;
    function send(m) { try { ws.send(JSON.stringify(m)); } catch (err) {} }
    // hello and join go together: the broker handles them in order, and
    // the peers come a round trip sooner than after the welcome.
    // The gateway that served the page (data-gateway) is offered a
    // connection at once: it joined the swarm when it served the page.
    ws.onopen = function () {
      mark("open");
      send({ v: 1, type: "hello", role: "leecher" }); e.helloSent = true;
      send({ type: "join", swarm: root });
      if (gateway) want({ id: gateway });
    };
    ws.onclose = function () { e.closed = true; };
    ws.onmessage = function (ev) {
      if (typeof ev.data !== "string") return;
      var m = null;
      if (!e.taken) { try { m = JSON.parse(ev.data); } catch (err) { m = null; } }
      var c = m && (m.type === "answer" || m.type === "candidate") ? e.conns.filter(function (c) { return c.peer === m.from; })[0] : null;
      if (c) {
        if (m.type === "answer" && !c.remote && typeof m.sdp === "string") {
          c.remote = true;
          mark("answer");
          c.pc.setRemoteDescription({ type: "answer", sdp: m.sdp }).then(function () {
            c.cands.forEach(function (x) { c.pc.addIceCandidate(x).catch(function () {}); });
            c.cands = [];
          }, function () {});
        } else if (m.type === "candidate" && m.candidate && m.candidate.candidate) {
          var x = { candidate: String(m.candidate.candidate), sdpMid: m.candidate.sdpMid, sdpMLineIndex: m.candidate.sdpMLineIndex };
          if (c.remote) c.pc.addIceCandidate(x).catch(function () {}); else c.cands.push(x);
        }
        return;
      }
      if (e.msgs.length >= 1024) { window.swarmgateEarlyDrop(e); return; } // the Go side's queue bound
      e.msgs.push(ev.data); // the Go client reads these, checked, when it takes over
      if (!m) return;
      if (m.type === "welcome") mark("welcome");
      else if (m.type === "peers" && m.swarm === root && Array.isArray(m.peers)) {
        mark("peers");
        // The broker lists gateways first; the client connects in order.
        m.peers.forEach(want);
      } else if (m.type === "joined" && m.swarm === root) {
        // A peer joined after the list was sent: a gateway that joins the
        // swarm's room when a page asks for it, for one.
        mark("joined");
        want(m.peer);
      }
    };
    function want(p) {
      if (p && typeof p.id === "string" && p.id && e.conns.length < EARLY_PEERS && !e.conns.some(function (c) { return c.peer === p.id; })) offer(p.id);
    }
    // made makes a peer connection and its offer, not yet addressed: the
    // first is made while the socket opens, and goes to the first peer
    // the broker lists (its candidates wait for that peer).
    function made() {
      var pc, dc;
      try {
        pc = new RTCPeerConnection({ iceServers: [] });
        dc = pc.createDataChannel("ppsp", { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 });
        dc.binaryType = "arraybuffer";
      } catch (err) { if (pc) pc.close(); return null; }
      var m = { pc: pc, dc: dc, to: null, sdp: null, cands: [] };
      dc.addEventListener("open", function () { mark("dc_open"); });
      function sendCand(c) { send({ type: "candidate", to: m.to, candidate: { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } }); }
      m.address = function (id) {
        m.to = id;
        if (m.sdp) { mark("offer"); send({ type: "offer", to: id, sdp: m.sdp }); }
        m.cands.forEach(sendCand);
        m.cands = [];
      };
      pc.onicecandidate = function (ev) {
        var c = ev.candidate;
        if (!c || !c.candidate) return;
        if (m.to && m.sdp) sendCand(c); else m.cands.push(c);
      };
      pc.createOffer().then(function (o) {
        return pc.setLocalDescription(o).then(function () {
          m.sdp = o.sdp;
          if (m.to) m.address(m.to);
        });
      }).catch(function () {});
      return m;
    }
    var spare = made();
    function offer(id) {
      var m = spare || made();
      spare = null;
      if (!m) return;
      e.conns.push({ peer: id, pc: m.pc, dc: m.dc, remote: false, cands: [] });
      m.address(id);
    }
    e.spare = function () { var m = spare; spare = null; return m; };
    return e;
  }
  // swarmgateEarlyTake(signal) hands the early connection to the Go client
  // (wasm/main.go): {ws, msgs, helloSent, conns: [{peer, pc, dc, remote}]},
  // or null. From then on the page only says hello (if the socket was not
  // open yet) and queues the broker's messages in msgs, for Go, until Go
  // takes the socket's events over.
  window.swarmgateEarlyTake = function (signal) {
    var e = early;
    early = null;
    if (!e) return null;
    if (e.url !== signal || e.closed) { window.swarmgateEarlyDrop(e); return null; }
    e.taken = true;
    e.mark("taken");
    var sp = e.spare(); // made, but no peer was listed in time: the client dials its own
    if (sp) sp.pc.close();
    // Candidates that came before their answer go back in the queue: the
    // client's transport holds them until it applies that answer.
    e.conns.forEach(function (c) {
      if (c.remote) return;
      c.cands.forEach(function (x) { e.msgs.push(JSON.stringify({ type: "candidate", from: c.peer, candidate: x })); });
      c.cands = [];
    });
    return e;
  };
  // swarmgateEarlyDrop closes an early connection nobody took.
  window.swarmgateEarlyDrop = function (e) {
    e = e || early;
    if (e === early) early = null;
    if (!e) return;
    (e.conns || []).forEach(function (c) { try { c.pc.close(); } catch (err) {} });
    var sp = e.spare && e.spare();
    if (sp) try { sp.pc.close(); } catch (err) {}
    if (e.ws) { e.ws.onmessage = e.ws.onopen = e.ws.onclose = null; try { e.ws.close(); } catch (err) {} }
  };
  // The page holds the whole video already (watch.js notes it): no network.
  function earlyWanted(root) {
    if (!root || /[?&]sg-(early|p2p)=0/.test(location.search) || !window.WebSocket || !window.RTCPeerConnection) return false;
    try {
      if (localStorage.getItem("swarmgate.peer") === "1") return false; // a peer's session is not a leecher's
      if (localStorage.getItem("swarmgate.held." + root) === "1") return false;
    } catch (err) {}
    return true;
  }

  // A page that includes this script in its head with data-wasm and
  // data-wasm-exec starts the client at once, before its body is parsed.
  var me = typeof document !== "undefined" && document.currentScript; // none in the worker (worker.js imports this file)
  // With ?sg-worker=1 the client starts in a worker instead (worker.js).
  if (me && me.dataset.wasm && me.dataset.wasmExec) {
    if (/[?&]sg-worker=1/.test(location.search) && me.dataset.worker && window.swarmgateWorkerOK()) {
      window.swarmgateWorker({ worker: me.dataset.worker, wasmExec: me.dataset.wasmExec, wasm: me.dataset.wasm, load: me.src }).catch(function () {});
    } else {
      var gw = /^[A-Za-z0-9_-]{1,64}$/.test(me.dataset.gateway || "") ? me.dataset.gateway : "";
      if (earlyWanted(me.dataset.root)) early = earlyConnect((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/signal", me.dataset.root, gw);
      window.swarmgateLoad(me.dataset.wasmExec, me.dataset.wasm).catch(function () {});
    }
  }

  // swarmgateBlobs() opens the tab's chunk storage for the Go client
  // (internal/store/blobstore's Blobs): the Origin Private File System
  // where the page may use it (a secure context), IndexedDB elsewhere (a
  // phone on plain http), null when neither works (private modes). Each
  // blob is written whole: an OPFS file through createWritable (its close
  // commits atomically) or one IndexedDB value.
  var blobs = null;
  window.swarmgateBlobs = function () {
    if (!blobs) blobs = openOPFS().catch(function () { return openIDB(); }).catch(function () { return null; });
    return blobs;
  };
  function notFound(e) { return e && (e.name === "NotFoundError" || e.name === "TypeMismatchError"); }
  function openOPFS() {
    if (!navigator.storage || !navigator.storage.getDirectory) return Promise.reject(new Error("no OPFS"));
    return navigator.storage.getDirectory().then(function (top) {
      return top.getDirectoryHandle("swarmgate", { create: true });
    }).then(function (root) {
      var dirs = new Map();
      function dir(name, create) {
        if (dirs.has(name)) return Promise.resolve(dirs.get(name));
        return root.getDirectoryHandle(name, { create: create }).then(function (d) { dirs.set(name, d); return d; });
      }
      function names(d) {
        var out = [], it = d.keys();
        function next() { return it.next().then(function (r) { if (r.done) return out; out.push(r.value); return next(); }); }
        return next();
      }
      return {
        kind: "opfs",
        get: function (d, n) {
          return dir(d, false).then(function (h) { return h.getFileHandle(n); }).then(function (f) { return f.getFile(); })
            .then(function (f) { return f.arrayBuffer(); }).then(function (b) { return new Uint8Array(b); },
              function (e) { if (notFound(e)) return null; throw e; });
        },
        put: function (d, n, data) {
          return dir(d, true).then(function (h) { return h.getFileHandle(n, { create: true }); }).then(function (f) {
            return f.createWritable();
          }).then(function (w) {
            return w.write(data).then(function () { return w.close(); }, function (e) { return w.abort().then(function () { throw e; }, function () { throw e; }); });
          });
        },
        list: function (d) { return dir(d, false).then(names, function (e) { if (notFound(e)) return []; throw e; }); },
        dirs: function () { return names(root); },
        removeDir: function (d) {
          dirs.delete(d);
          return root.removeEntry(d, { recursive: true }).catch(function (e) { if (!notFound(e)) throw e; });
        }
      };
    });
  }
  function openIDB() {
    if (!window.indexedDB) return Promise.reject(new Error("no IndexedDB"));
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open("swarmgate", 1);
      req.onupgradeneeded = function () { req.result.createObjectStore("blobs"); };
      req.onerror = function () { reject(req.error); };
      req.onsuccess = function () {
        var db = req.result;
        function op(mode, f) {
          return new Promise(function (res, rej) {
            var tx = db.transaction("blobs", mode), st = tx.objectStore("blobs"), r = f(st), out;
            if (r) r.onsuccess = function () { out = r.result; };
            tx.oncomplete = function () { res(out); };
            tx.onerror = tx.onabort = function () { rej(tx.error || new Error("IndexedDB transaction failed")); };
          });
        }
        function range(d) { return IDBKeyRange.bound(d + "/", d + "/\uffff"); }
        resolve({
          kind: "indexeddb",
          get: function (d, n) {
            return op("readonly", function (st) { return st.get(d + "/" + n); }).then(function (v) { return v === undefined ? null : new Uint8Array(v); });
          },
          put: function (d, n, data) { return op("readwrite", function (st) { return st.put(data.slice().buffer, d + "/" + n); }); },
          list: function (d) {
            return op("readonly", function (st) { return st.getAllKeys(range(d)); }).then(function (ks) { return ks.map(function (k) { return k.slice(d.length + 1); }); });
          },
          dirs: function () {
            return op("readonly", function (st) { return st.getAllKeys(); }).then(function (ks) {
              var seen = {}; ks.forEach(function (k) { seen[k.split("/")[0]] = true; }); return Object.keys(seen);
            });
          },
          removeDir: function (d) { return op("readwrite", function (st) { st.delete(range(d)); return null; }); }
        });
      };
    });
  }
})();
