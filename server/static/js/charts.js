// Charts as inline SVG, drawn here from API figures. Every chart states its numbers in text as well: visibly where
// they fit, otherwise in a table for screen readers (class "sr-only"), and the SVG itself carries a summary label.
"use strict";

import { h, newId } from "./dom.js";
import * as fmt from "./format.js";

const NS = "http://www.w3.org/2000/svg";

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function clamp(x, lo = 0, hi = 100) { return Math.max(lo, Math.min(hi, Number(x) || 0)); }

/** An <svg role="img"> with a summary label. */
function figureSvg(label, viewBox, cls, ...children) {
  // Bars stretch to their box; charts with text keep their proportions.
  const stretch = /split|progress/.test(cls || "") ? "none" : null;
  return svg("svg", { viewBox, class: `chart-svg ${cls || ""}`.trim(), role: "img", "aria-label": label, focusable: "false", preserveAspectRatio: stretch },
    svg("title", {}, label), ...children);
}

/** Semicircular gauge, 0-100, for the readiness score. */
export function gauge(value, { tier, caption = "Readiness score" } = {}) {
  const v = clamp(value);
  const r = 80, cx = 100, cy = 96;
  const point = (t) => [cx - r * Math.cos(Math.PI * t), cy - r * Math.sin(Math.PI * t)];
  const [x0, y0] = point(0), [x1, y1] = point(1), [xv, yv] = point(v / 100);
  const track = `M ${x0} ${y0} A ${r} ${r} 0 0 1 ${x1} ${y1}`;
  const fill = `M ${x0} ${y0} A ${r} ${r} 0 0 1 ${xv.toFixed(2)} ${yv.toFixed(2)}`;
  const label = `${caption}: ${fmt.score(value)} out of 100${tier ? `, ${tier}` : ""}`;
  return h("figure", { class: "chart gauge" },
    figureSvg(label, "0 0 200 112", "gauge-svg",
      svg("path", { d: track, class: "gauge-track" }),
      v > 0 ? svg("path", { d: fill, class: "gauge-fill" }) : null,
      svg("text", { x: cx, y: cy - 14, class: "gauge-value", "text-anchor": "middle" }, fmt.score(value)),
      svg("text", { x: cx, y: cy + 8, class: "gauge-scale", "text-anchor": "middle" }, "of 100")),
    h("figcaption", {}, h("span", { class: "gauge-caption" }, caption), tier ? h("span", { class: "pill tier" }, tier) : null));
}

/** A horizontal bar, value out of max; decorative (the number sits next to it in text). */
export function bar(value, max = 100, cls = "") {
  const w = max > 0 ? clamp((Number(value) || 0) / max * 100) : 0;
  return svg("svg", { viewBox: "0 0 100 10", preserveAspectRatio: "none", class: `bar ${cls}`.trim(), "aria-hidden": "true", focusable: "false" },
    svg("rect", { x: 0, y: 0, width: 100, height: 10, rx: 2, class: "bar-track" }),
    svg("rect", { x: 0, y: 0, width: w.toFixed(2), height: 10, rx: 2, class: "bar-fill" }));
}

/** Labelled horizontal bars with their numbers: [{label, value, text?}] */
export function barList(items, { max, caption, unit = "" } = {}) {
  const top = max ?? Math.max(1, ...items.map((i) => Number(i.value) || 0));
  return h("figure", { class: "chart bar-list" },
    caption ? h("figcaption", {}, caption) : null,
    h("ul", { class: "bars" }, items.map((i) => h("li", {},
      h("span", { class: "bar-label" }, i.label),
      bar(i.value, top, i.cls || ""),
      h("span", { class: "bar-value" }, i.text ?? `${fmt.count(i.value)}${unit}`)))));
}

/** Sparkline of a score trend: [{as_of, score}] oldest first. */
export function sparkline(points, { caption = "Score trend" } = {}) {
  const w = 240, hgt = 60, pad = 6;
  const n = points.length;
  const xs = (k) => (n === 1 ? w / 2 : pad + (k * (w - 2 * pad)) / (n - 1));
  const ys = (v) => hgt - pad - (clamp(v) / 100) * (hgt - 2 * pad);
  const first = points[0], last = points[n - 1];
  const change = n > 1 ? Math.round((last.score - first.score) * 10) / 10 : 0;
  const label = n > 1
    ? `${caption}: ${fmt.score(first.score)} on ${fmt.date(first.as_of)} to ${fmt.score(last.score)} on ${fmt.date(last.as_of)}, ${n} scores`
    : `${caption}: one score so far, ${fmt.score(last.score)} on ${fmt.date(last.as_of)}`;
  const line = points.map((p, k) => `${xs(k).toFixed(1)},${ys(p.score).toFixed(1)}`).join(" ");
  const tableId = newId("trend");
  return h("figure", { class: "chart spark" },
    figureSvg(label, `0 0 ${w} ${hgt}`, "spark-svg",
      svg("line", { x1: 0, x2: w, y1: ys(50), y2: ys(50), class: "spark-mid" }),
      n > 1 ? svg("polyline", { points: line, class: "spark-line" }) : null,
      points.map((p, k) => svg("circle", { cx: xs(k).toFixed(1), cy: ys(p.score).toFixed(1), r: k === n - 1 ? 3.5 : 2, class: k === n - 1 ? "spark-last" : "spark-dot" }))),
    h("figcaption", {},
      n > 1 ? `${fmt.score(first.score)} → ${fmt.score(last.score)} (${change >= 0 ? "+" : ""}${change}) since ${fmt.date(first.as_of)}`
        : `One stored score so far (${fmt.date(last.as_of)}); the trend grows with each rescore.`),
    h("table", { class: "sr-only", id: tableId },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Date"), h("th", { scope: "col" }, "Score"))),
      h("tbody", {}, points.map((p) => h("tr", {}, h("td", {}, fmt.date(p.as_of)), h("td", {}, fmt.score(p.score)))))));
}

/** Two amounts side by side in one stacked bar (sourced vs influenced). */
export function split(a, b, { caption, aLabel, bLabel, format = fmt.money } = {}) {
  const total = (a || 0) + (b || 0);
  const wa = total > 0 ? ((a || 0) / total) * 100 : 0;
  const label = `${caption}: ${aLabel} ${format(a)}, ${bLabel} ${format(b)}`;
  return h("figure", { class: "chart split" },
    h("figcaption", {}, caption),
    figureSvg(label, "0 0 100 12", "split-svg",
      svg("rect", { x: 0, y: 0, width: 100, height: 12, rx: 2, class: "split-empty" }),
      total > 0 ? svg("rect", { x: 0, y: 0, width: wa.toFixed(2), height: 12, class: "split-a" }) : null,
      total > 0 ? svg("rect", { x: wa.toFixed(2), y: 0, width: (100 - wa).toFixed(2), height: 12, class: "split-b" }) : null),
    h("ul", { class: "legend" },
      h("li", {}, h("span", { class: "swatch swatch-a", "aria-hidden": "true" }), `${aLabel}: `, h("strong", {}, format(a))),
      h("li", {}, h("span", { class: "swatch swatch-b", "aria-hidden": "true" }), `${bLabel}: `, h("strong", {}, format(b)))));
}

/** Lifecycle funnel: per stage, partners that reached it (bar), are there now and are stalled there (text). */
export function funnel(stages, { caption = "Lifecycle funnel" } = {}) {
  const top = Math.max(1, ...stages.map((s) => s.reached));
  const rowH = 26, w = 300;
  const label = `${caption}: ` + stages.map((s) => `${fmt.humanize(s.stage)} reached ${s.reached}, now ${s.current}, stalled ${s.stalled}`).join("; ");
  return h("figure", { class: "chart funnel" },
    h("figcaption", {}, caption),
    figureSvg(label, `0 0 ${w} ${stages.length * rowH}`, "funnel-svg",
      stages.map((s, k) => {
        const bw = (s.reached / top) * w;
        const cw = (s.current / top) * w;
        const x = (w - bw) / 2;
        return svg("g", {},
          svg("rect", { x: x.toFixed(1), y: k * rowH + 2, width: Math.max(bw, 1).toFixed(1), height: rowH - 6, rx: 3, class: "funnel-reached" }),
          svg("rect", { x: ((w - cw) / 2).toFixed(1), y: k * rowH + 2, width: cw.toFixed(1), height: rowH - 6, rx: 3, class: "funnel-current" }));
      })),
    h("table", { class: "funnel-table" },
      h("thead", {}, h("tr", {}, ["Stage", "Reached", "Now", "Stalled", "On to next"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, stages.map((s) => h("tr", {},
        h("th", { scope: "row" }, fmt.humanize(s.stage)), h("td", {}, fmt.count(s.reached)), h("td", {}, fmt.count(s.current)),
        h("td", { class: s.stalled ? "warn" : "" }, fmt.count(s.stalled)), h("td", {}, fmt.pct(s.conversion_to_next)))))));
}

/** Stacked monthly columns: months [{month, counts:{category:n}}], categories [{key,label}]. */
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export function columns(months, categories, { caption = "Activity per month" } = {}) {
  const w = 300, hgt = 80, gap = 3, axis = 12;
  const totals = months.map((m) => categories.reduce((a, c) => a + (m.counts[c.key] || 0), 0));
  const top = Math.max(1, ...totals);
  const cw = w / months.length - gap;
  const label = `${caption}: ` + months.map((m, k) => `${m.month} ${totals[k]}`).join(", ");
  return h("figure", { class: "chart columns" },
    h("figcaption", {}, caption),
    figureSvg(label, `0 0 ${w} ${hgt + axis}`, "columns-svg",
      svg("line", { x1: 0, x2: w, y1: hgt + 0.5, y2: hgt + 0.5, class: "axis" }),
      months.map((m, k) => {
        let y = hgt;
        const x = k * (cw + gap);
        return [categories.map((c, ci) => {
          const v = m.counts[c.key] || 0;
          const bh = (v / top) * (hgt - 4);
          y -= bh;
          return v ? svg("rect", { x: x.toFixed(1), y: y.toFixed(1), width: cw.toFixed(1), height: bh.toFixed(1), class: `col-${ci}` }) : null;
        }), svg("text", { x: (x + cw / 2).toFixed(1), y: hgt + axis - 2, class: "axis-label", "text-anchor": "middle" },
          MONTHS[Number(m.month.slice(5, 7)) - 1] || m.month)];
      })),
    h("ul", { class: "legend" }, categories.map((c, ci) => h("li", {}, h("span", { class: `swatch col-${ci}`, "aria-hidden": "true" }), c.label))),
    h("table", { class: "sr-only" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Month"), categories.map((c) => h("th", { scope: "col" }, c.label)))),
      h("tbody", {}, months.map((m) => h("tr", {}, h("th", { scope: "row" }, m.month), categories.map((c) => h("td", {}, fmt.count(m.counts[c.key] || 0))))))));
}

/** A progress meter (done of total) with its figures. */
export function progress(done, total, { caption } = {}) {
  const label = `${caption || "Progress"}: ${done} of ${total}`;
  return h("figure", { class: "chart progress" },
    figureSvg(label, "0 0 100 8", "progress-svg",
      svg("rect", { x: 0, y: 0, width: 100, height: 8, rx: 4, class: "bar-track" }),
      svg("rect", { x: 0, y: 0, width: total ? ((done / total) * 100).toFixed(2) : 0, height: 8, rx: 4, class: "bar-fill" })),
    h("figcaption", {}, `${done} of ${total} ${caption ? caption.toLowerCase() : "done"}`));
}
