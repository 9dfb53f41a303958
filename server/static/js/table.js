// A table the reader sorts by clicking (or pressing Enter/Space on) a column header; aria-sort tells assistive
// technology the order, and a polite status line announces it.
"use strict";

import { h, replace } from "./dom.js";

export function sortableTable({ columns, rows, caption, sortKey, sortDir = "asc", empty = "Nothing to show.", rowKey }) {
  let data = rows.slice();
  let key = sortKey, dir = sortDir;
  const status = h("p", { class: "sr-only", role: "status" });
  const tbody = h("tbody", { role: "rowgroup" });
  const heads = columns.map((c) => {
    if (c.sortable === false) return h("th", { scope: "col", class: c.cls, role: "columnheader" }, c.label);
    const button = h("button", { type: "button", class: "sort", dataset: { key: c.key } }, c.label, h("span", { class: "sort-mark", "aria-hidden": "true" }));
    button.addEventListener("click", () => {
      dir = key === c.key && dir === "asc" ? "desc" : key === c.key ? "asc" : (c.numeric ? "desc" : "asc");
      key = c.key;
      draw();
      status.textContent = `Sorted by ${c.label}, ${dir === "asc" ? "ascending" : "descending"}`;
    });
    return h("th", { scope: "col", class: c.cls, role: "columnheader", dataset: { key: c.key } }, button);
  });
  // Explicit roles keep the table a table for assistive technology when a phone's CSS lays rows out as cards.
  const table = h("table", { class: "data cards", role: "table" }, caption ? h("caption", {}, caption) : null,
    h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, heads)), tbody);

  function compare(a, b) {
    const col = columns.find((c) => c.key === key);
    if (!col) return 0;
    const va = col.value ? col.value(a) : a[col.key];
    const vb = col.value ? col.value(b) : b[col.key];
    const na = va === null || va === undefined, nb = vb === null || vb === undefined;
    if (na || nb) return na && nb ? 0 : na ? 1 : -1; // blanks last either way
    const r = typeof va === "number" && typeof vb === "number" ? va - vb : String(va).localeCompare(String(vb));
    return dir === "asc" ? r : -r;
  }

  function draw() {
    const sorted = key ? data.slice().sort(compare) : data;
    heads.forEach((th, i) => {
      const c = columns[i];
      if (c.sortable === false) return;
      th.setAttribute("aria-sort", c.key === key ? (dir === "asc" ? "ascending" : "descending") : "none");
    });
    if (!sorted.length) {
      replace(tbody, h("tr", { role: "row" }, h("td", { colspan: columns.length, class: "empty", role: "cell" }, empty)));
      return;
    }
    // data-label: on a phone each row becomes a small card whose cells name their column (see app.css).
    replace(tbody, sorted.map((row) => h("tr", { role: "row", dataset: rowKey ? { key: rowKey(row) } : {} },
      columns.map((c) => h(c.rowHeader ? "th" : "td", { class: c.cls, scope: c.rowHeader ? "row" : null,
        role: c.rowHeader ? "rowheader" : "cell", dataset: { label: c.label } },
        c.cell ? c.cell(row) : row[c.key])))));
  }

  draw();
  const wrap = h("div", { class: "table-wrap cards-wrap", role: "region", "aria-label": caption || "Table", tabindex: "0" }, table);
  return { element: h("div", { class: "sortable" }, wrap, status), setRows(next) { data = next.slice(); draw(); } };
}
