// swarmgate link page: live progress of the gateway's copy, and sharing.
// The page plays without this script (the <video> streams /raw/).
(function () {
  "use strict";
  var page = document.querySelector("article.watch");
  if (!page) return;
  var statusURL = page.dataset.status;
  var held = document.getElementById("held");
  var status = document.getElementById("status");
  var canvas = document.getElementById("chunks");
  var timer = 0, done = false;

  function draw(s) {
    if (!canvas || !s.total) return;
    var w = canvas.clientWidth || 300, h = canvas.height;
    canvas.width = w;
    var g = canvas.getContext("2d");
    g.fillStyle = getComputedStyle(document.body).getPropertyValue("--line") || "#ccc";
    g.fillRect(0, 0, w, h);
    g.fillStyle = getComputedStyle(document.body).getPropertyValue("--ok") || "green";
    (s.verified || []).forEach(function (r) {
      var x0 = Math.floor(r[0] / s.total * w), x1 = Math.ceil((r[1] + 1) / s.total * w);
      g.fillRect(x0, 0, Math.max(1, x1 - x0), h);
    });
  }

  function update(s) {
    held.max = Math.max(s.total, 1);
    held.value = s.have;
    status.textContent = s.have + " of " + s.total + " chunks verified · " + s.peers + " peers (" + s.seeders + " with a full copy)";
    draw(s);
    done = s.total > 0 && s.have === s.total;
  }

  function poll() {
    timer = 0;
    if (document.hidden) return; // a hidden page goes quiet
    fetch(statusURL, { cache: "no-store" }).then(function (r) {
      return r.ok ? r.json() : null;
    }).then(function (s) {
      if (s) update(s);
    }).catch(function () {}).then(function () {
      if (!done && !document.hidden) timer = setTimeout(poll, 1000);
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && !done && !timer) poll();
  });
  poll();

  var url = location.href;
  var copy = document.getElementById("copy");
  if (navigator.clipboard && copy) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      navigator.clipboard.writeText(url).then(function () { copy.textContent = "Copied"; });
    });
  }
  var share = document.getElementById("webshare");
  if (navigator.share && share) {
    share.hidden = false;
    share.addEventListener("click", function () {
      navigator.share({ title: document.title, url: url }).catch(function () {});
    });
  }
})();
