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
  // A page that includes this script in its head with data-wasm and
  // data-wasm-exec starts the client at once, before its body is parsed.
  var me = document.currentScript;
  if (me && me.dataset.wasm && me.dataset.wasmExec) window.swarmgateLoad(me.dataset.wasmExec, me.dataset.wasm).catch(function () {});

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
