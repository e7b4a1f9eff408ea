/* Sorting for the grader's tables (class "sortable"): click a column's heading to sort by it, click again to
   reverse. Each cell carries its sort key in data-value (numbers for numeric columns, the original order for the
   first), so what is shown ("–", "3 of 7") never has to be parsed. A file, not inline script: the pages'
   Content-Security-Policy allows scripts from files only. Loaded with `defer` on every page; it does nothing
   where there is no sortable table. */
(function () {
  "use strict";
  function key(row, column, kind) {
    var cell = row.cells[column];
    var value = cell ? cell.getAttribute("data-value") : "";
    if (kind === "text") { return (value === null ? cell.textContent : value).toLowerCase(); }
    var number = parseFloat(value);
    return isNaN(number) ? -Infinity : number;
  }
  function sortBy(table, column, kind, heading) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var descending = heading.getAttribute("aria-sort") === "ascending";
    rows.sort(function (a, b) {
      var x = key(a, column, kind), y = key(b, column, kind);
      var order = x < y ? -1 : (x > y ? 1 : 0);
      return descending ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (other) {
      other.removeAttribute("aria-sort");
    });
    heading.setAttribute("aria-sort", descending ? "descending" : "ascending");
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (heading, column) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      button.textContent = heading.textContent;
      heading.textContent = "";
      heading.appendChild(button);
      button.addEventListener("click", function () {
        sortBy(table, column, heading.getAttribute("data-sort") || "number", heading);
      });
    });
  });
  document.documentElement.setAttribute("data-tables", "sortable");
}());
