// Progressive enhancement only: every page works without this file.
// - "/" focuses the search box; j / k move between results; Enter opens the selected one.
// - An export's page follows its progress and shows the download link when it is done.
// - The integrity page reloads while a verification runs.
(function () {
  "use strict";
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(document.activeElement)) { return; }
    var q = document.getElementById("q");
    if (ev.key === "/" && q) { ev.preventDefault(); q.focus(); q.select(); return; }
    var hits = Array.prototype.slice.call(document.querySelectorAll("[data-hit]"));
    if (!hits.length || (ev.key !== "j" && ev.key !== "k")) { return; }
    var at = hits.findIndex(function (h) { return h.classList.contains("selected"); });
    var next = ev.key === "j" ? Math.min(at + 1, hits.length - 1) : Math.max(at - 1, 0);
    if (at >= 0) { hits[at].classList.remove("selected"); }
    hits[next].classList.add("selected");
    var link = hits[next].querySelector("a");
    if (link) { link.focus(); }
    hits[next].scrollIntoView({ block: "nearest" });
  });

  function followExport(box) {
    var url = box.getAttribute("data-status-url");
    function set(name, value) {
      var el = box.querySelector('[data-field="' + name + '"]');
      if (el) { el.textContent = value; }
    }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) { return; }
          set("state", s.state); set("done", s.done); set("total", s.total);
          var bar = box.querySelector("progress");
          if (bar) { bar.max = Math.max(s.total, 1); bar.value = s.done; }
          if (s.state === "queued" || s.state === "running") {
            setTimeout(poll, 1000);
          } else {
            window.location.reload();  // done or failed: the page has the whole story
          }
        })
        .catch(function () { setTimeout(poll, 3000); });
    }
    var state = box.getAttribute("data-state");
    if (state === "queued" || state === "running") { setTimeout(poll, 500); }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("export");
    if (box) { followExport(box); }
    var runs = document.getElementById("verify-runs");
    if (runs && runs.getAttribute("data-refresh") === "yes") {
      setTimeout(function () { window.location.replace(window.location.pathname); }, 1500);
    }
  });
})();
