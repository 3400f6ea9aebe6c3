// swarmgate's watch client in a dedicated Worker (the link page with
// ?sg-worker=1; docs/decisions.md 55). The Go-WASM client runs here, off
// the page's thread, which keeps the player. Browsers give workers no
// RTCPeerConnection, so the page holds the peer connections and this
// worker drives them through a stand-in (PC below) that internal/rtc's
// browser connection (conn_js.go) uses unchanged; each data channel is made on the page and transferred
// here, so every message goes straight to Go, never through the page.
// Messages with the page:
//   page -> worker: {t:"init", wasmExec, wasm, load}, {t:"watch", id, opts},
//                   {t:"op", id, hid, op, args}, {t:"ret", id, ok, v, err},
//                   {t:"pcev", pc, ev, st, c}, {t:"dc", dc, channel}
//   worker -> page: {t:"ready"} | {t:"fail", err}, {t:"ret", id, ok, v, err},
//                   {t:"call", id, op, args}, {t:"mark", k, at}
"use strict";
self.window = self; // load.js and the Go glue look for globals on window

var calls = new Map(), nextCall = 1;
function callPage(op, args) {
  return new Promise(function (resolve, reject) {
    var id = nextCall++;
    calls.set(id, { resolve: resolve, reject: reject });
    postMessage({ t: "call", id: id, op: op, args: args });
  });
}
function plain(o) { return o === undefined || o === null ? o : JSON.parse(JSON.stringify(o)); }
self.swarmgateMark = function (k) { postMessage({ t: "mark", k: k, at: performance.timeOrigin + performance.now() }); };

// ---- RTCPeerConnection and RTCDataChannel stand-ins ----
var pcs = new Map(), dcs = new Map(), nextPC = 1, nextDC = 1;
function PC(config) {
  this._id = nextPC++;
  this.connectionState = "new"; this.iceConnectionState = "new"; this.iceGatheringState = "new"; this.signalingState = "stable";
  this.localDescription = null; this.remoteDescription = null;
  this.onicecandidate = null; this.onconnectionstatechange = null; this.oniceconnectionstatechange = null;
  this.onicegatheringstatechange = null; this.onsignalingstatechange = null; this.ondatachannel = null; this.onnegotiationneeded = null;
  pcs.set(this._id, this);
  callPage("pc", [this._id, plain(config)]).catch(function () {});
}
PC.prototype._state = function (st) {
  if (!st) return;
  for (var k in st) this[k] = st[k];
};
PC.prototype.createDataChannel = function (label, init) {
  var d = new DC(label, init || {});
  dcs.set(d._id, d);
  callPage("dc", [this._id, d._id, label, plain(init || {})]).catch(function (e) { d._fail(e); });
  return d;
};
PC.prototype.createOffer = function () { return callPage("offer", [this._id]); };
PC.prototype.createAnswer = function () { return callPage("answer", [this._id]); };
PC.prototype.setLocalDescription = function (d) {
  var self = this;
  return callPage("local", [this._id, d ? { type: d.type, sdp: d.sdp } : null]).then(function (st) { self._state(st); });
};
PC.prototype.setRemoteDescription = function (d) {
  var self = this;
  return callPage("remote", [this._id, { type: d.type, sdp: d.sdp }]).then(function (st) { self._state(st); });
};
PC.prototype.addIceCandidate = function (c) {
  return callPage("cand", [this._id, c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex, usernameFragment: c.usernameFragment } : null]);
};
PC.prototype.close = function () {
  if (this.signalingState === "closed") return;
  this.signalingState = "closed"; this.connectionState = "closed";
  pcs.delete(this._id);
  callPage("close", [this._id]).catch(function () {});
};
self.RTCPeerConnection = PC;

// A channel made on the page arrives here transferred; until then the
// stand-in keeps its handlers and settings.
var dcHandlers = ["onopen", "onclose", "onclosing", "onerror", "onmessage", "onbufferedamountlow"];
function DC(label, init) {
  this._id = nextDC++;
  this._real = null;
  this._label = label;
  this._init = init;
  this._set = { binaryType: "arraybuffer" };
  this._closed = false;
}
dcHandlers.concat(["binaryType", "bufferedAmountLowThreshold"]).forEach(function (k) {
  Object.defineProperty(DC.prototype, k, {
    get: function () { return this._real ? this._real[k] : this._set[k]; },
    set: function (v) { this._set[k] = v; if (this._real) this._real[k] = v; }
  });
});
[["label", function (d) { return d._label; }], ["ordered", function (d) { return d._init.ordered !== false; }],
 ["maxRetransmits", function (d) { return d._init.maxRetransmits; }], ["maxPacketLifeTime", function (d) { return d._init.maxPacketLifeTime; }],
 ["protocol", function (d) { return d._init.protocol || ""; }], ["negotiated", function (d) { return !!d._init.negotiated; }],
 ["id", function (d) { return d._init.id; }], ["readyState", function (d) { return d._closed ? "closed" : "connecting"; }],
 ["bufferedAmount", function () { return 0; }]].forEach(function (p) {
  Object.defineProperty(DC.prototype, p[0], { get: function () { return this._real ? this._real[p[0]] : p[1](this); } });
});
DC.prototype._attach = function (real) {
  this._real = real;
  for (var k in this._set) if (this._set[k] !== undefined && this._set[k] !== null) real[k] = this._set[k];
  if (this._closed) real.close();
};
DC.prototype._fail = function () {
  this._closed = true;
  if (typeof this._set.onclose === "function") this._set.onclose(new Event("close"));
};
DC.prototype.send = function (data) {
  if (!this._real) throw new DOMException("the data channel is not open", "InvalidStateError");
  return this._real.send(data);
};
DC.prototype.close = function () {
  this._closed = true;
  dcs.delete(this._id);
  if (this._real) this._real.close();
};

// ---- the client, for the page ----
var handles = new Map(), nextHandle = 1, ready = null;
function reply(id, ok, v, transfer) {
  if (ok) postMessage({ t: "ret", id: id, ok: true, v: v }, transfer || []);
  else postMessage({ t: "ret", id: id, ok: false, err: String(v && v.message || v) });
}

self.onmessage = function (e) {
  var m = e.data;
  switch (m.t) {
    case "init":
      if (ready) return;
      ready = new Promise(function (resolve, reject) {
        importScripts(m.wasmExec, m.load); // Go's runtime glue; swarmgateBlobs (OPFS, IndexedDB)
        self.swarmgateReady = resolve;
        var go = new Go();
        WebAssembly.instantiateStreaming(fetch(m.wasm), go.importObject).then(function (r) { go.run(r.instance); }, reject);
      });
      ready.then(function () { postMessage({ t: "ready" }); }, function (err) { postMessage({ t: "fail", err: String(err && err.message || err) }); });
      return;
    case "watch":
      ready.then(function () { return self.swarmgate.watch(m.opts); }).then(function (h) {
        var hid = nextHandle++;
        handles.set(hid, h);
        reply(m.id, true, { hid: hid, offline: !!h.offline });
      }, function (err) { reply(m.id, false, err); });
      return;
    case "op": {
      var h = handles.get(m.hid);
      if (!h) { reply(m.id, false, "the swarm client is closed"); return; }
      if (m.op === "status") { reply(m.id, true, h.status.apply(h, m.args)); return; }
      if (m.op === "hold" || m.op === "abort") { h[m.op].apply(h, m.args); reply(m.id, true, null); return; }
      if (m.op === "close") { h.close(); handles.delete(m.hid); reply(m.id, true, null); return; }
      if (m.op === "size" || m.op === "read") {
        h[m.op].apply(h, m.args).then(function (v) {
          if (v && v.buffer) reply(m.id, true, v, [v.buffer]);
          else reply(m.id, true, v);
        }, function (err) { reply(m.id, false, err); });
        return;
      }
      reply(m.id, false, "unknown operation " + m.op);
      return;
    }
    case "ret": {
      var c = calls.get(m.id);
      if (!c) return;
      calls.delete(m.id);
      if (m.ok) c.resolve(m.v); else c.reject(new DOMException(m.err, "OperationError"));
      return;
    }
    case "pcev": {
      var pc = pcs.get(m.pc);
      if (!pc) return;
      pc._state(m.st);
      var f = pc["on" + m.ev];
      if (typeof f !== "function") return;
      if (m.ev === "icecandidate") f.call(pc, { candidate: m.c });
      else f.call(pc, new Event(m.ev));
      return;
    }
    case "dc": {
      var d = dcs.get(m.dc);
      if (d) d._attach(m.channel);
      else m.channel.close();
      return;
    }
  }
};
