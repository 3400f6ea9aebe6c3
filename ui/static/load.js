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
    ready = loadScript(wasmExec).then(function () {
      return new Promise(function (resolve, reject) {
        window.swarmgateReady = resolve;
        var go = new Go();
        var inst = WebAssembly.instantiateStreaming
          ? WebAssembly.instantiateStreaming(fetch(wasm), go.importObject)
          : fetch(wasm).then(function (r) { return r.arrayBuffer(); }).then(function (b) { return WebAssembly.instantiate(b, go.importObject); });
        inst.then(function (r) {
          // The Go heap's linear memory (it only grows): for tests and the curious.
          window.swarmgateWasmBytes = function () { return r.instance.exports.mem.buffer.byteLength; };
          window.swarmgateGoRefs = function () { var n = 0, b = 0; go._values.forEach(function (v) { if (v !== undefined) { n++; if (v && v.byteLength) b += v.byteLength; } }); return [n, b]; };
          go.run(r.instance);
        }, reject);
      });
    });
    return ready;
  };
})();
