// Click a column header of a table.sortable to sort its rows; click again to reverse.
// Pages work without it: this only reorders rows already on the page.
(function () {
  "use strict";
  function key(cell) {
    var v = cell.getAttribute("data-v");
    if (v === null) { v = cell.textContent.trim(); }
    var n = Number(v.replace(/[%,]/g, ""));
    return v !== "" && !isNaN(n) ? { n: n } : { s: v.toLowerCase() };
  }
  function cmp(a, b) {
    if (a.n !== undefined && b.n !== undefined) { return a.n - b.n; }
    if (a.n !== undefined) { return -1; }
    if (b.n !== undefined) { return 1; }
    return a.s < b.s ? -1 : a.s > b.s ? 1 : 0;
  }
  function sort(table, th, col) {
    var body = table.tBodies[0];
    if (!body) { return; }
    var desc = th.getAttribute("aria-sort") === "ascending";
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    for (var i = 0; i < heads.length; i++) { heads[i].removeAttribute("aria-sort"); }
    th.setAttribute("aria-sort", desc ? "descending" : "ascending");
    var rows = Array.prototype.slice.call(body.rows).map(function (r, i) {
      return { r: r, k: r.cells[col] ? key(r.cells[col]) : { s: "" }, i: i };
    });
    rows.sort(function (a, b) { return (desc ? -1 : 1) * cmp(a.k, b.k) || a.i - b.i; });
    rows.forEach(function (x) { body.appendChild(x.r); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      if (!table.tHead) { return; }
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
        th.tabIndex = 0;
        th.title = "Sort";
        th.addEventListener("click", function () { sort(table, th, col); });
        th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(table, th, col); } });
      });
    });
  });
})();
