// A PAM's book (their home), or one PAM's book as a leader sees it (/books/{pam_id}): the call list as a sortable,
// filterable table, the grow-to-sourcing list, claims to confirm, nudges due and book health.
"use strict";

import * as api from "../api.js";
import * as cards from "../cards.js";
import * as charts from "../charts.js";
import { card, errorText, h, newId, replace } from "../dom.js";
import * as fmt from "../format.js";
import { sortableTable } from "../table.js";

function partnerLink(id, name) { return h("a", { href: `/partners/${encodeURIComponent(id)}` }, name || id); }

function playOf(e) {
  if (e.plays && e.plays.length) return e.plays[0].label;
  return e.play ? fmt.humanize(e.play) : "–";
}

function reasonOf(e) {
  const first = e.plays && e.plays.length && (e.plays[0].evidence || [])[0];
  return first || (e.reasons || [])[0] || "–";
}

function select(key, label, options, onChange) {
  const id = newId("filter");
  const el = h("select", { id, dataset: { filter: key } }, h("option", { value: "" }, "All"), options.map((o) => h("option", { value: o.value }, o.label)));
  el.addEventListener("change", () => onChange(el.value));
  return h("div", { class: "filter" }, h("label", { for: id }, label), el);
}

function callListBody(data) {
  const entries = data.entries;
  if (!entries.length) return h("p", {}, "No dormant partner in this book is worth a call right now.");
  const columns = [
    { key: "rank", label: "Rank", numeric: true, cls: "num" },
    { key: "name", label: "Partner", rowHeader: true, cell: (e) => partnerLink(e.partner_id, e.name) },
    { key: "play", label: "Play", value: playOf, cell: playOf },
    { key: "readiness", label: "Readiness", numeric: true, cls: "readiness",
      cell: (e) => h("span", { class: "inline-bar" }, charts.bar(e.readiness, 100), h("span", {}, fmt.score(e.readiness))) },
    { key: "revenue_at_stake", label: "Revenue at stake", numeric: true, cls: "num", cell: (e) => fmt.money(e.revenue_at_stake) },
    { key: "reason", label: "Reason", value: reasonOf, cell: reasonOf, cls: "reason" },
    { key: "opener", label: "Opener", sortable: false, cell: (e) => e.opener || e.next_step || "–", cls: "opener" },
  ];
  const table = sortableTable({ columns, rows: entries, caption: `Call list, as of ${fmt.date(data.as_of)}`, sortKey: "rank",
    rowKey: (e) => e.partner_id });
  const shown = h("p", { class: "muted", role: "status" }, `${entries.length} partners`);
  const filters = { play: "", segment: "" };
  const apply = () => {
    const rows = entries.filter((e) => (!filters.play || (e.play || "") === filters.play) && (!filters.segment || e.segment === filters.segment));
    table.setRows(rows);
    shown.textContent = rows.length === entries.length ? `${entries.length} partners` : `${rows.length} of ${entries.length} partners`;
  };
  const plays = [...new Map(entries.filter((e) => e.play).map((e) => [e.play, playOf(e)])).entries()].map(([value, label]) => ({ value, label }));
  const segments = [...new Set(entries.map((e) => e.segment))].sort().map((s) => ({ value: s, label: fmt.humanize(s) }));
  return [
    h("div", { class: "filters" },
      plays.length ? select("play", "Play", plays, (v) => { filters.play = v; apply(); }) : null,
      select("segment", "Segment", segments, (v) => { filters.segment = v; apply(); }), shown),
    table.element,
  ];
}

function growBody(data) {
  if (!data.entries.length) return h("p", {}, "No partner in this book co-sells without sourcing right now.");
  return sortableTable({
    caption: "Co-selling partners to grow into sourcing", sortKey: "rank", rows: data.entries, rowKey: (e) => e.partner_id,
    columns: [
      { key: "rank", label: "Rank", numeric: true, cls: "num" },
      { key: "name", label: "Partner", rowHeader: true, cell: (e) => partnerLink(e.partner_id, e.name) },
      { key: "readiness", label: "Readiness", numeric: true, cls: "num", cell: (e) => fmt.score(e.readiness) },
      { key: "influenced_count", label: "Deals co-sold", numeric: true, cls: "num" },
      { key: "influenced_open", label: "Influenced open", numeric: true, cls: "num", cell: (e) => fmt.money(e.influenced_open) },
      { key: "next_step", label: "Next step", sortable: false },
    ],
  }).element;
}

function cell(label, content, cls) { return h("td", { role: "cell", class: cls, dataset: { label } }, content); }

function claimsBody(data, { canDecide, reload, announce }) {
  if (!data.milestones.length && !data.signals.length) return h("p", {}, "No claim is waiting for you.");
  const decide = async (button, call, done) => {
    button.disabled = true;
    try { await call(); await reload(done); } catch (err) { button.disabled = false; announce(errorText(err)); }
  };
  const milestoneRows = data.milestones.map((m) => {
    const actions = [];
    if (canDecide) {
      for (const [action, text] of [["confirm", "Confirm"], ["reject", "Reject"]]) {
        const b = h("button", { type: "button", class: action === "reject" ? "secondary" : "", dataset: { action }, "aria-label": `${text} “${m.title}” for ${m.name}` }, text);
        b.addEventListener("click", () => decide(b, () => api.patch(`/v1/partners/${encodeURIComponent(m.partner_id)}/plan/milestones/${encodeURIComponent(m.key)}`, { action }),
          `${text === "Confirm" ? "Confirmed" : "Rejected"} “${m.title}” for ${m.name}.`));
        actions.push(b);
      }
    }
    return h("tr", { role: "row", dataset: { key: `${m.partner_id}:${m.key}` } },
      h("th", { scope: "row", role: "rowheader" }, partnerLink(m.partner_id, m.name)), cell("Claim", m.title),
      cell("Claimed", m.claimed_at ? fmt.date(m.claimed_at) : "–"), cell("Evidence", (m.evidence || []).join("; ") || "–", "reason"),
      canDecide ? cell("Decision", actions, "actions") : null);
  });
  const signalRows = data.signals.map((sg) => {
    const actions = [];
    if (canDecide) {
      for (const [decision, text] of [["confirm", "Confirm"], ["reject", "Reject"]]) {
        const b = h("button", { type: "button", class: decision === "reject" ? "secondary" : "", dataset: { action: decision }, "aria-label": `${text} the ${fmt.humanize(sg.dimension)} signal for ${sg.name}` }, text);
        b.addEventListener("click", () => decide(b, () => api.post(`/v1/signals/${sg.signal_id}/review`, { decision }), `${text === "Confirm" ? "Confirmed" : "Rejected"} the signal for ${sg.name}.`));
        actions.push(b);
      }
    }
    return h("tr", { role: "row", dataset: { key: `signal:${sg.signal_id}` } }, h("th", { scope: "row", role: "rowheader" }, partnerLink(sg.partner_id, sg.name)),
      cell("Claim", `Signal: ${fmt.humanize(sg.dimension)} ${sg.level || sg.value || ""}`), cell("Claimed", fmt.date(sg.created_at)),
      cell("Evidence", sg.evidence || "–", "reason"), canDecide ? cell("Decision", actions, "actions") : null);
  });
  const head = ["Partner", "Claim", "Claimed", "Evidence", ...(canDecide ? ["Decision"] : [])];
  return h("div", { class: "table-wrap cards-wrap", role: "region", "aria-label": "Claims awaiting confirmation", tabindex: "0" },
    h("table", { class: "data cards claims", role: "table" },
      h("thead", { role: "rowgroup" }, h("tr", { role: "row" }, head.map((t) => h("th", { scope: "col", role: "columnheader" }, t)))),
      h("tbody", { role: "rowgroup" }, milestoneRows, signalRows)));
}

function bookHealthBody(book) {
  const stalled = book.lifecycle.stalled;
  const stalledTotal = book.lifecycle.stages.reduce((n, st) => n + st.stalled, 0);
  return [
    h("p", {}, `${fmt.count(book.partners)} partners, ${fmt.count(book.scored)} scored as of ${fmt.date(book.as_of)}.`),
    charts.barList(Object.entries(book.segments).sort((a, b) => b[1] - a[1]).map(([k, v]) => ({ label: fmt.humanize(k), value: v })), { caption: "Segments (partners)" }),
    charts.funnel(book.lifecycle.stages, { caption: "Lifecycle funnel" }),
    book.lifecycle.bottleneck ? h("p", {}, h("strong", {}, "Bottleneck: "), book.lifecycle.bottleneck_reason) : null,
    stalled.length ? [h("h3", {}, `Longest stalled (${stalledTotal} in all)`),
      h("ul", { class: "stalled" }, stalled.map((lc) => h("li", {}, partnerLink(lc.partner_id, lc.name), ` — ${lc.stalled_reason}`)))] : null,
  ];
}

export function bookView(main, { pamId, role, title }) {
  const canDecide = role === "pam";
  const pam = role === "pam" ? null : pamId;
  const grid = h("div", { class: "grid book" });
  replace(main, h("h1", {}, title), grid);

  const section = (t, cls, promise, build) => {
    const c = card(t, { cls });
    grid.append(c.section);
    return (async () => {
      try { replace(c.body, await build(await promise)); } catch (err) { replace(c.body, h("p", { class: "error" }, errorText(err))); }
    })();
  };
  const waits = [
    section("Call list: dormant partners worth calling", "calls wide", api.get(`/v1/call-list${api.qs({ limit: 100, pam })}`), callListBody),
    section("Grow co-sell into sourcing", "grow wide", api.get(`/v1/grow-list${api.qs({ limit: 25, pam })}`), growBody),
  ];
  // Claims: reloaded in place after each decision.
  const claims = card("Claims awaiting confirmation", { cls: "claims wide" });
  const live = h("p", { class: "sr-only", role: "status" });
  claims.section.append(live);
  grid.append(claims.section);
  const loadClaims = async (message) => {
    try {
      const data = await api.get(`/v1/claims${api.qs({ pam })}`);
      replace(claims.body, claimsBody(data, { canDecide, reload: loadClaims, announce: (t) => { live.textContent = t; } }));
      if (message) live.textContent = message;
    } catch (err) { replace(claims.body, h("p", { class: "error" }, errorText(err))); }
  };
  waits.push(loadClaims());
  waits.push(section("Nudges due", "nudges", api.get(`/v1/nudges${api.qs({ pam })}`), (n) => cards.nudgesBody(n, { staff: true })));
  waits.push(section("Book health", "health", api.get(`/v1/book${api.qs({ pam, stalled_limit: 8 })}`), bookHealthBody));
  waits.push(section("Pipeline: sourced vs influenced", "pipeline", api.get(`/v1/pipeline${api.qs({ pam })}`), cards.pipelineBody));
  return Promise.all(waits);
}
