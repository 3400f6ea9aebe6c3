// swarmgate Service Worker: answers the media element's Range requests
// for /stream/<root> from the page that plays it, which reads verified
// bytes out of the Go-WASM client (the swarm). Every other request passes
// through untouched. Served at /sw.js so that its scope is the origin.
"use strict";

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (ev) { ev.waitUntil(self.clients.claim()); });

var PIECE = 1024 * 1024; // bytes per message to the page (wasm maxRead)

// ask sends msg to the page over a fresh MessageChannel and resolves with
// its answer ({error} rejects).
function ask(client, msg, timeoutMs) {
  return new Promise(function (resolve, reject) {
    var ch = new MessageChannel();
    var timer = setTimeout(function () { reject(new Error("page did not answer")); }, timeoutMs || 60000);
    ch.port1.onmessage = function (e) {
      clearTimeout(timer);
      ch.port1.close();
      if (e.data && e.data.error) reject(new Error(e.data.error)); else resolve(e.data);
    };
    client.postMessage(msg, [ch.port2]);
  });
}

function pageFor(ev) {
  var id = ev.clientId || ev.resultingClientId;
  return (id ? self.clients.get(id) : Promise.resolve(null)).then(function (c) {
    if (c) return c;
    return self.clients.matchAll({ type: "window" }).then(function (all) { return all[0] || null; });
  });
}

// parseRange reads "bytes=a-b" / "bytes=a-" / "bytes=-n"; null if absent
// or not a single range.
function parseRange(h, size) {
  var m = /^bytes=(\d*)-(\d*)$/.exec((h || "").trim());
  if (!m || (m[1] === "" && m[2] === "")) return null;
  var start, end;
  if (m[1] === "") { start = Math.max(0, size - Number(m[2])); end = size - 1; }
  else { start = Number(m[1]); end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1); }
  return { start: start, end: end };
}

function serve(ev, root, type) {
  return pageFor(ev).then(function (page) {
    if (!page) return new Response("no page to play from", { status: 503 });
    return ask(page, { swarmgate: "size", root: root }).then(function (r) {
      var size = r.size;
      var rg = parseRange(ev.request.headers.get("Range"), size);
      var status = 200, start = 0, end = size - 1;
      var headers = { "Content-Type": type, "Accept-Ranges": "bytes", "Cache-Control": "no-store" };
      if (rg) {
        if (rg.start >= size || rg.start > rg.end) {
          headers["Content-Range"] = "bytes */" + size;
          return new Response(null, { status: 416, headers: headers });
        }
        status = 206; start = rg.start; end = rg.end;
        headers["Content-Range"] = "bytes " + start + "-" + end + "/" + size;
      }
      headers["Content-Length"] = String(end - start + 1);
      var off = start, cancelled = false;
      var body = new ReadableStream({
        pull: function (ctl) {
          if (off > end) { ctl.close(); return; }
          var n = Math.min(PIECE, end - off + 1);
          return ask(page, { swarmgate: "read", root: root, offset: off, length: n }).then(function (a) {
            if (cancelled) return;
            if (!a.data || a.data.byteLength === 0) { ctl.error(new Error("no data at " + off)); return; }
            off += a.data.byteLength;
            ctl.enqueue(new Uint8Array(a.data));
            if (off > end) ctl.close();
          }, function (err) { if (!cancelled) ctl.error(err); });
        },
        cancel: function () { cancelled = true; },
      }, { highWaterMark: 2 });
      return new Response(status === 200 && size === 0 ? null : body, { status: status, headers: headers });
    });
  }).catch(function (err) {
    return new Response(String(err && err.message || err), { status: 502 });
  });
}

self.addEventListener("fetch", function (ev) {
  var u = new URL(ev.request.url);
  if (u.origin !== self.location.origin) return;
  var m = /^\/stream\/([0-9a-f]{40,128})$/.exec(u.pathname);
  if (!m) return;
  var type = u.searchParams.get("mt") || "application/octet-stream";
  if (!/^[a-z]+\/[a-z0-9.+-]+$/i.test(type)) type = "application/octet-stream";
  ev.respondWith(serve(ev, m[1], type));
});
