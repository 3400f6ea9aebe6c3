// swarmgate /publish: hash the picked file in the Go-WASM client (read in
// 1 MiB slices, never whole in memory), show its link and QR code, then
// upload one copy to the boosters the gateway lists (reverse peer
// discovery: the page asks, never announces) and say when it is safe to
// close. The publisher then closes every connection itself.
(function () {
  "use strict";
  var page = document.querySelector("article.publish");
  if (!page) return;
  var D = page.dataset;
  var input = document.getElementById("file");
  var phase = document.getElementById("phase");
  var hashed = document.getElementById("hashed");
  var result = document.getElementById("result");
  var linkEl = document.getElementById("link");
  var qr = document.getElementById("qr");
  var uploaded = document.getElementById("uploaded");
  var holders = document.getElementById("holders");
  var safeEl = document.getElementById("safe");
  var toFeed = document.getElementById("tofeed");
  var text = document.getElementById("text");
  var feedEl = document.getElementById("feed");
  var feedLink = document.getElementById("feedlink");
  var state = { phase: "idle", link: "", safe: false, uploaded: 0, length: 0, error: "" };
  window.swarmgatePublish = state; // for tests and the curious

  function say(t) { phase.textContent = t; }
  function fmtBytes(n) {
    var u = ["B", "KiB", "MiB", "GiB"], i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : n) + " " + u[i];
  }
  function loadWasm() { return window.swarmgateLoad(D.wasmExec, D.wasm); }
  function fail(e) {
    state.phase = "failed"; state.error = String(e && e.message || e);
    say("Publishing failed: " + state.error);
  }

  document.getElementById("pick").addEventListener("submit", function (e) { e.preventDefault(); });
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) return;
    if (typeof WebAssembly !== "object" || typeof RTCPeerConnection !== "function") {
      fail("this browser lacks WebAssembly or WebRTC"); return;
    }
    input.disabled = true;
    state.phase = "loading"; state.length = file.size;
    say("Loading the client…");
    var signal = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/signal";
    loadWasm().then(function () {
      state.phase = "hashing";
      say("Hashing " + file.name + " (" + fmtBytes(file.size) + ")…");
      hashed.hidden = false;
      return swarmgate.publish({ file: file, signal: signal, copies: 1, onProgress: function (done, total) { hashed.value = done / total; } });
    }).then(function (p) {
      state.phase = "uploading"; state.link = p.link; state.root = p.root;
      hashed.hidden = true;
      var url = location.origin + p.link;
      linkEl.href = p.link; linkEl.textContent = url;
      qr.src = "/qr/" + p.root;
      result.hidden = false;
      say("Uploading one copy to the boosters…");
      if (toFeed.checked) {
        // Signed in the tab with the browser's own key (wasm/feed.go).
        text.disabled = toFeed.disabled = true;
        p.post(text.value).then(function (f) {
          state.feed = f;
          feedLink.href = f.page; feedLink.textContent = f.fingerprint;
          feedEl.hidden = false;
        }, function (e) {
          state.feedError = String(e && e.message || e);
          feedEl.textContent = "Not posted to your feed: " + state.feedError;
          feedEl.hidden = false;
        });
      }
      if (navigator.share) {
        var b = document.createElement("button");
        b.type = "button"; b.textContent = "Share";
        b.addEventListener("click", function () { navigator.share({ url: url, title: file.name }).catch(function () {}); });
        linkEl.parentNode.appendChild(b);
      }
      var timer = setInterval(function () {
        var s = JSON.parse(p.status());
        state.last = s;
        state.uploaded = s.uploaded;
        uploaded.textContent = fmtBytes(s.uploaded) + " of " + fmtBytes(s.length);
        holders.textContent = s.holders + " of " + s.copies;
      }, 500);
      return p.safe().then(function (final) {
        clearInterval(timer);
        var s = JSON.parse(final);
        state.last = s; // the engine's counters too (retransmits, timeouts): for tests and the curious
        state.uploaded = s.uploaded; state.safe = true; state.phase = "safe";
        uploaded.textContent = fmtBytes(s.uploaded) + " of " + fmtBytes(s.length);
        holders.textContent = s.holders + " of " + s.copies;
        safeEl.hidden = false;
        say("Done: the video is in the swarm. You can close this page.");
      });
    }).catch(fail);
  });
})();
