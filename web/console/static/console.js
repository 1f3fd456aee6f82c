// Holdfast console: the only script the pages run (no inline script; the
// CSP forbids it). Progressive: every page works without it.
(function () {
  "use strict";

  // Times are written in UTC; show the reader's own zone beside them.
  function localTimes() {
    document.querySelectorAll("time[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d) || (t.nextElementSibling && t.nextElementSibling.className === "local")) return;
      var s = document.createElement("span");
      s.className = "local";
      s.textContent = "(" + d.toLocaleString() + " your time)";
      t.after(s);
    });
  }

  // Tables sort by a click (or Enter) on a column's header.
  function sortable() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      var heads = table.querySelectorAll("thead th");
      heads.forEach(function (th, col) {
        th.setAttribute("aria-sort", "none");
        th.tabIndex = 0;
        function sort() {
          var asc = th.getAttribute("aria-sort") !== "ascending";
          heads.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
          th.setAttribute("aria-sort", asc ? "ascending" : "descending");
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          function key(r) {
            var c = r.cells[col];
            if (!c) return "";
            var k = c.getAttribute("data-sort");
            return k !== null && k !== "" && !isNaN(k) ? Number(k) : c.textContent.trim().toLowerCase();
          }
          rows.sort(function (a, b) {
            var x = key(a), y = key(b);
            return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
          });
          rows.forEach(function (r) { body.appendChild(r); });
          table.dispatchEvent(new Event("sorted"));
        }
        th.addEventListener("click", sort);
        th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
      });
    });
  }

  // Long tables page, 50 rows at a time, after any sort.
  var pageSize = 50;
  function paged() {
    document.querySelectorAll("table.sortable").forEach(function (table) {
      var body = table.tBodies[0];
      if (!body || body.rows.length <= pageSize) return;
      var page = 0;
      var nav = document.createElement("nav");
      nav.className = "pages";
      nav.setAttribute("aria-label", "Pages of this table");
      var prev = document.createElement("button"), next = document.createElement("button"), where = document.createElement("span");
      prev.type = next.type = "button";
      prev.textContent = "← previous";
      next.textContent = "next →";
      nav.append(prev, where, next);
      table.after(nav);
      function show() {
        var rows = body.rows, pages = Math.ceil(rows.length / pageSize);
        page = Math.max(0, Math.min(page, pages - 1));
        for (var i = 0; i < rows.length; i++) rows[i].hidden = Math.floor(i / pageSize) !== page;
        where.textContent = "rows " + (page * pageSize + 1) + " to " + Math.min(rows.length, (page + 1) * pageSize) + " of " + rows.length;
        prev.disabled = page === 0;
        next.disabled = page >= pages - 1;
      }
      prev.addEventListener("click", function () { page--; show(); });
      next.addEventListener("click", function () { page++; show(); });
      table.addEventListener("sorted", function () { page = 0; show(); });
      show();
    });
  }

  // A tenant's running jobs, live (the API's server-sent events).
  function live() {
    var el = document.getElementById("live");
    if (!el || !window.EventSource) return;
    var src = new EventSource("/api/v1/tenants/" + encodeURIComponent(el.dataset.tenant) + "/runs/live");
    src.addEventListener("running", function (e) { show(el, e.data); });
  }
  function show(el, data) {
    var v;
    try { v = JSON.parse(data); } catch (e) { return; }
    var kinds = Object.keys(v || {});
    if (kinds.length === 0) { el.textContent = "Nothing runs for this tenant."; return; }
    el.textContent = kinds.map(function (k) {
      var p = v[k].progress, s = k + " running (due " + new Date(v[k].job.Due || v[k].job.due).toLocaleString() + ")";
      if (p) {
        s += ": " + (p.items_new + p.items_changed) + " items captured, " + p.items_deleted + " deletions, " + Math.round(p.bytes / 1048576) + " MiB";
        if (p.accounts) s += "; " + p.accounts_done + " of " + p.accounts + " accounts done, " + p.running + " running";
        if (p.remaining_s) s += ", about " + Math.ceil(p.remaining_s / 60) + " min left";
      }
      return s;
    }).join("; ");
  }

  // Running exports: their progress, then the finished list.
  function exports() {
    var rows = document.querySelectorAll("tr[data-export]");
    if (rows.length === 0) return;
    var timer = setInterval(function () {
      rows.forEach(function (row) {
        fetch(row.dataset.export, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (j) {
          var cell = row.querySelector(".progress");
          if (j.status === "running") {
            cell.textContent = "running: " + j.done + " of " + j.total + " versions read";
          } else {
            clearInterval(timer);
            location.reload();
          }
        }).catch(function () {});
      });
    }, 1000);
  }

  // A page that follows a job reloads until the job ends.
  function refresh() {
    var el = document.querySelector("[data-refresh]");
    if (el) setTimeout(function () { location.reload(); }, 1000 * Number(el.dataset.refresh || 2));
  }

  document.addEventListener("DOMContentLoaded", function () { refresh(); localTimes(); sortable(); paged(); live(); exports(); });
})();
