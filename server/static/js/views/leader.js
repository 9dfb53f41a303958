// Program health across books, for channel leaders: activation, time to first deal, churn risk, revenue per PAM.
"use strict";

import * as api from "../api.js";
import { pipelineBody } from "../cards.js";
import * as charts from "../charts.js";
import { card, errorText, h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { sortableTable } from "../table.js";

function tile(label, value, note) {
  return h("div", { class: "tile" }, h("p", { class: "tile-label" }, label), h("p", { class: "tile-value" }, value), note ? h("p", { class: "muted" }, note) : null);
}

function kpis(health) {
  return h("div", { class: "tiles" },
    tile("Partners", fmt.count(health.partners)),
    tile("Activation rate", fmt.pct(health.activation_rate), `${fmt.count(health.activated_partners)} with a first deal`),
    tile("Time to first deal", health.time_to_first_deal_median_days === null ? "–" : fmt.days(health.time_to_first_deal_median_days),
      `median over ${fmt.count(health.partners_with_first_deal)} partners`),
    tile("Churn risk", fmt.count(health.churn_risk.length), "producing partners going quiet"),
    tile(`Sourced revenue, ${health.trailing_days} days`, fmt.money(health.sourced_revenue_trailing), `influenced ${fmt.money(health.influenced_revenue_trailing)}`),
    tile("Sourced revenue per partner", fmt.money(health.sourced_revenue_per_partner)));
}

function books(health) {
  const rows = health.per_pam;
  return [
    sortableTable({
      caption: "Books", sortKey: "sourced_revenue", sortDir: "desc", rows, rowKey: (r) => r.pam_id || "unassigned",
      columns: [
        { key: "name", label: "PAM", rowHeader: true, cell: (r) => (r.pam_id ? h("a", { href: `/books/${encodeURIComponent(r.pam_id)}` }, r.name || r.pam_id) : "Unassigned"), value: (r) => r.name || "" },
        { key: "partners", label: "Partners", numeric: true, cls: "num", cell: (r) => fmt.count(r.partners) },
        { key: "activation_rate", label: "Activation rate", numeric: true, cls: "num", cell: (r) => fmt.pct(r.activation_rate) },
        { key: "productive_partners", label: "Producing", numeric: true, cls: "num", cell: (r) => fmt.count(r.productive_partners) },
        { key: "churn_risk", label: "Churn risk", numeric: true, cls: "num", cell: (r) => fmt.count(r.churn_risk) },
        { key: "sourced_revenue", label: "Sourced revenue", numeric: true, cls: "num", cell: (r) => fmt.money(r.sourced_revenue) },
        { key: "revenue_per_partner", label: "Per partner", numeric: true, cls: "num", cell: (r) => fmt.money(r.revenue_per_partner) },
      ],
    }).element,
    charts.barList(rows.map((r) => ({ label: r.name || "Unassigned", value: r.sourced_revenue, text: fmt.compactMoney(r.sourced_revenue) })),
      { caption: `Sourced revenue per PAM, last ${health.trailing_days} days` }),
  ];
}

function churn(health) {
  if (!health.churn_risk.length) return h("p", {}, "No producing partner is going quiet.");
  const names = Object.fromEntries(health.per_pam.map((r) => [r.pam_id, r.name]));
  return sortableTable({
    caption: "Producing partners whose activity fell by half or more", sortKey: "sourced_revenue_trailing", sortDir: "desc",
    rows: health.churn_risk, rowKey: (r) => r.partner_id,
    columns: [
      { key: "name", label: "Partner", rowHeader: true, cell: (r) => h("a", { href: `/partners/${encodeURIComponent(r.partner_id)}` }, r.name) },
      { key: "pam", label: "PAM", value: (r) => names[r.pam_id] || "", cell: (r) => names[r.pam_id] || "–" },
      { key: "events_last_90", label: "Events, last 90 days", numeric: true, cls: "num" },
      { key: "events_prev_90", label: "Prior 90 days", numeric: true, cls: "num" },
      { key: "change", label: "Change", numeric: true, cls: "num", cell: (r) => fmt.pct(r.change) },
      { key: "sourced_revenue_trailing", label: "Sourced revenue", numeric: true, cls: "num", cell: (r) => fmt.money(r.sourced_revenue_trailing) },
    ],
  }).element;
}

function enablement(health) {
  const rows = health.enablement.filter((e) => e.with_partners > 0);
  if (!rows.length) return h("p", {}, "No enablement recorded yet.");
  return sortableTable({
    caption: "Share of partners producing with and without each enablement", sortKey: "lift", sortDir: "desc", rows,
    columns: [
      { key: "what", label: "Enablement", rowHeader: true, value: (e) => `${e.kind} ${e.detail || ""}`, cell: (e) => `${fmt.humanize(e.kind)}${e.detail ? `: ${e.detail}` : " (any)"}` },
      { key: "with_rate", label: "With", numeric: true, cls: "num", cell: (e) => `${fmt.pct(e.with_rate)} of ${fmt.count(e.with_partners)}` },
      { key: "without_rate", label: "Without", numeric: true, cls: "num", cell: (e) => `${fmt.pct(e.without_rate)} of ${fmt.count(e.without_partners)}` },
      { key: "lift", label: "Lift", numeric: true, cls: "num", cell: (e) => (e.lift === null ? "–" : `${e.lift.toFixed(1)}×`) },
    ],
  }).element;
}

export function leaderView(main) {
  const grid = h("div", { class: "grid leader" });
  replace(main, h("h1", {}, "Program health"), grid);
  const healthP = api.get("/v1/program/health");
  const section = (t, cls, promise, build) => {
    const c = card(t, { cls });
    grid.append(c.section);
    return (async () => {
      try { replace(c.body, await build(await promise)); } catch (err) { replace(c.body, h("p", { class: "error" }, errorText(err))); }
    })();
  };
  return Promise.all([
    section("Across books", "kpis wide", healthP, kpis),
    section("Revenue per PAM", "books wide", healthP, books),
    section("Churn risk", "churn wide", healthP, churn),
    section("Lifecycle", "lifecycle", api.get("/v1/lifecycle?stalled_limit=0"), (lc) => [
      charts.funnel(lc.stages, { caption: `Lifecycle funnel, ${fmt.count(lc.partners)} partners` }),
      lc.bottleneck ? h("p", {}, h("strong", {}, "Bottleneck: "), lc.bottleneck_reason) : null]),
    section("Pipeline: sourced vs influenced", "pipeline", api.get("/v1/pipeline"), pipelineBody),
    section("Enablement effect", "enablement wide", healthP, enablement),
  ]);
}
