// The partner cards: the same on a partner's home and on a PAM's drill-down. Each card loads its own figures from
// the REST API and draws itself; `partnerCards` resolves when every card is drawn.
"use strict";

import * as api from "./api.js";
import * as charts from "./charts.js";
import { card, errorText, h, newId, replace } from "./dom.js";
import * as fmt from "./format.js";

const STATUS_TEXT = {
  open: "Open", claimed: "Claimed, awaiting confirmation", done: "Done", overdue: "Overdue", stalled: "Stalled",
  skipped: "Skipped",
};

function fill(body, build) {
  return async (promise) => {
    try { replace(body, await build(await promise)); }
    catch (err) { replace(body, h("p", { class: "error" }, errorText(err))); }
  };
}

function evidenceLine(dimension) {
  const subs = (dimension.subsignals || []).filter((s) => (s.evidence || []).length);
  if (!subs.length) return null;
  const best = subs.reduce((a, b) => (b.contribution > a.contribution ? b : a));
  const missing = subs.filter((s) => s.value === 0).sort((a, b) => b.weight - a.weight)[0];
  return h("ul", { class: "evidence" },
    h("li", {}, h("span", { class: "ev-kind good" }, "Strongest: "), `${best.label}: ${best.evidence[0]}`),
    missing && missing !== best ? h("li", {}, h("span", { class: "ev-kind gap" }, "Missing: "), `${missing.label}: ${missing.evidence[0]}`) : null);
}

export function scoreBody(score, { staff }) {
  const facts = [
    ["Segment", fmt.humanize(score.segment)],
    ["Outlook", score.outlook ? `${fmt.humanize(score.outlook)}${score.outlook_reason ? `: ${score.outlook_reason}` : ""}` : "–"],
    ["Change over 30 days", score.momentum_30 === null ? "–" : `${score.momentum_30 > 0 ? "+" : ""}${score.momentum_30}`],
    ["Change over 90 days", score.momentum_90 === null ? "–" : `${score.momentum_90 > 0 ? "+" : ""}${score.momentum_90}`],
  ];
  if (staff) facts.push(["Revenue at stake", fmt.money(score.revenue_at_stake)]);
  return [
    h("div", { class: "score-row" },
      charts.gauge(score.score, { tier: score.tier }),
      h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    h("p", { class: "as-of" }, `As of ${fmt.date(score.as_of)}`),
    staff && score.dormant_flags.length ? h("div", { class: "flags" }, h("h3", {}, "Why now"),
      h("ul", {}, score.dormant_flags.map((f) => h("li", {}, h("strong", {}, f.label), (f.evidence || []).length ? `: ${f.evidence[0]}` : "")))) : null,
  ];
}

export function dimensionsBody(score) {
  return h("ul", { class: "dimensions" }, score.dimensions.map((d) => h("li", { class: "dimension" },
    h("div", { class: "dim-head" },
      h("span", { class: "dim-label" }, d.label),
      h("span", { class: "dim-weight" }, `weight ${d.weight}%`),
      h("span", { class: "dim-score" }, `${fmt.score(d.score)}/100`)),
    charts.bar(d.score, 100),
    h("p", { class: "dim-contrib" }, `${d.contribution} of the ${fmt.score(score.score)} points`),
    evidenceLine(d))));
}

export function trendBody(score) {
  return charts.sparkline(score.trend.length ? score.trend : [{ as_of: score.as_of, score: score.score }]);
}

function playbookLinks(playbooks) {
  if (!playbooks || !playbooks.length) return null;
  return h("ul", { class: "playbooks" }, playbooks.map((p) => h("li", {}, h("a", { href: `/playbooks/${encodeURIComponent(p.id)}` }, p.title))));
}

export function gapBody(diagnosis) {
  const top = diagnosis.top_gap;
  if (!top) return h("p", {}, "No open go-to-market gap: keep the current motion going.");
  const others = diagnosis.gaps.filter((g) => g.gap !== top.gap);
  return [
    h("p", { class: "gap-title" }, h("strong", {}, top.label), " ", h("span", { class: `pill status-${top.status}` }, fmt.humanize(top.status)),
      h("span", { class: "muted" }, ` confidence ${fmt.pct(top.confidence)}`)),
    top.evidence.length ? h("ul", { class: "evidence" }, top.evidence.slice(0, 3).map((e) => h("li", {}, e))) : null,
    top.missing_elements.length ? h("p", {}, h("span", { class: "ev-kind gap" }, "Missing: "), top.missing_elements.map(fmt.humanize).join("; ")) : null,
    top.playbooks.length ? [h("h3", {}, "Playbooks for it"), playbookLinks(top.playbooks)] : null,
    others.length ? h("p", { class: "muted" }, "Other gaps: ", others.map((g) => `${g.label} (${g.status})`).join(", ")) : null,
  ];
}

export function nudgesBody(data, { staff } = {}) {
  if (!data.nudges.length) return h("p", {}, "Nothing is overdue or stalled right now.");
  return h("ul", { class: "nudges" }, data.nudges.map((n) => h("li", {},
    staff ? h("a", { href: `/partners/${encodeURIComponent(n.partner_id)}` }, n.name) : null,
    staff ? " — " : null, h("span", {}, n.reason), h("br"), h("span", { class: "muted" }, `Next step: ${n.next_step}`))));
}

export function pipelineBody(p) {
  const cur = p.currencies && p.currencies.length === 1 ? p.currencies[0] : "USD";
  const money = (v) => fmt.money(v, cur);
  return [
    charts.split(p.open_sourced.amount, p.open_influenced.amount, { caption: "Open pipeline", aLabel: `Sourced (${p.open_sourced.count})`, bLabel: `Influenced (${p.open_influenced.count})`, format: money }),
    charts.split(p.won_sourced_trailing.amount, p.won_influenced_trailing.amount, { caption: `Won, last ${p.trailing_days} days`, aLabel: `Sourced (${p.won_sourced_trailing.count})`, bLabel: `Influenced (${p.won_influenced_trailing.count})`, format: money }),
    h("p", { class: "muted" }, p.coverage_ratio === null ? "Sourced coverage: not enough history yet."
      : `Sourced coverage ${p.coverage_ratio.toFixed(1)}× against a ${p.coverage_target}× target.`,
    " Influenced deals are counted separately, never as sourced."),
  ];
}

// ---- the plan checklist --------------------------------------------------------------------------------------

function milestoneItem(m, ctx) {
  const done = m.status === "done";
  const mark = h("span", { class: `check check-${m.status}`, "aria-hidden": "true" }, done ? "✓" : m.status === "claimed" ? "…" : "");
  const actions = h("div", { class: "ms-actions" });
  const item = h("li", { class: `milestone ms-${m.status}`, dataset: { key: m.key } },
    mark,
    h("div", { class: "ms-main" },
      h("p", { class: "ms-title" }, h("strong", {}, m.title), " ", h("span", { class: `pill status-${m.status}` }, STATUS_TEXT[m.status] || m.status)),
      h("p", { class: "muted" }, `Day ${m.phase} · due ${fmt.date(m.due_on)}${m.completed_on ? ` · completed ${fmt.date(m.completed_on)}` : ""}`),
      h("p", { class: "ms-accept" }, `Done when: ${m.acceptance}`),
      !done && m.status !== "skipped" ? h("p", { class: "ms-next" }, `Next step: ${m.next_step}`) : null,
      m.reason ? h("p", { class: "muted" }, m.reason) : null,
      actions));
  if (ctx.role === "partner" && ["open", "overdue", "stalled"].includes(m.status)) claimControls(actions, m, ctx);
  if (ctx.role === "pam" && m.status === "claimed") decideControls(actions, m, ctx);
  return item;
}

function claimControls(actions, m, ctx) {
  const open = h("button", { type: "button", class: "secondary", dataset: { action: "claim" } }, "Mark as done");
  open.addEventListener("click", () => {
    const noteId = newId("note");
    const note = h("textarea", { id: noteId, rows: 2, maxlength: 1000 });
    const status = h("p", { class: "form-status", role: "status" });
    const form = h("form", { class: "claim-form" },
      h("label", { for: noteId }, "What did you do? (optional, your PAM sees it)"), note,
      h("div", { class: "row" }, h("button", { type: "submit" }, "Claim milestone"),
        h("button", { type: "button", class: "secondary", on: { click: () => { replace(actions, open); open.focus(); } } }, "Cancel")),
      status);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      status.textContent = "Saving…";
      try {
        await api.patch(`/v1/partners/${encodeURIComponent(ctx.partnerId)}/plan/milestones/${encodeURIComponent(m.key)}`,
          { action: "claim", note: note.value.trim() || null });
        await ctx.reload(`Claimed “${m.title}”: your PAM will confirm it.`);
      } catch (err) { status.textContent = errorText(err); }
    });
    replace(actions, form);
    note.focus();
  });
  replace(actions, open);
}

export function decideControls(actions, m, ctx) {
  const decide = async (action, button) => {
    button.disabled = true;
    try {
      await api.patch(`/v1/partners/${encodeURIComponent(ctx.partnerId)}/plan/milestones/${encodeURIComponent(m.key)}`, { action });
      await ctx.reload(`${action === "confirm" ? "Confirmed" : "Rejected"} “${m.title}”.`);
    } catch (err) { button.disabled = false; ctx.announce(errorText(err)); }
  };
  const confirm = h("button", { type: "button", dataset: { action: "confirm" } }, "Confirm");
  const reject = h("button", { type: "button", class: "secondary", dataset: { action: "reject" } }, "Reject");
  confirm.addEventListener("click", () => decide("confirm", confirm));
  reject.addEventListener("click", () => decide("reject", reject));
  replace(actions, h("div", { class: "row" }, confirm, reject));
}

export function planCard(partnerId, role) {
  const { section, body } = card("30/60/90-day plan", { cls: "plan" });
  const live = h("p", { class: "sr-only", role: "status" });
  section.append(live);
  const ctx = {
    partnerId, role,
    announce(text) { live.textContent = text; },
    async reload(message) { await load(); if (message) live.textContent = message; },
  };
  async function load() {
    let plan;
    try { plan = (await api.get(`/v1/partners/${encodeURIComponent(partnerId)}/plans`)).active; }
    catch (err) { replace(body, h("p", { class: "error" }, errorText(err))); return; }
    if (plan) {
      replace(body,
        charts.progress(plan.done, plan.total, { caption: "Milestones done" }),
        plan.next_milestone ? h("p", {}, h("strong", {}, "Next: "), `${plan.next_milestone.title}, due ${fmt.date(plan.next_milestone.due_on)}`) : h("p", {}, "Every milestone is done or skipped."),
        h("ol", { class: "checklist" }, plan.milestones.map((m) => milestoneItem(m, ctx))),
        h("p", { class: "as-of" }, `Started ${fmt.date(plan.started_on)}`));
      return;
    }
    if (!["partner", "pam"].includes(role)) { replace(body, h("p", {}, "No activation plan yet.")); return; }
    const start = h("button", { type: "button", dataset: { action: "start-plan" } }, role === "partner" ? "Start my 30/60/90-day plan" : "Start a 30/60/90-day plan");
    start.addEventListener("click", async () => {
      start.disabled = true;
      try { await api.post(`/v1/partners/${encodeURIComponent(partnerId)}/plan`); await ctx.reload("Plan started."); }
      catch (e) { start.disabled = false; live.textContent = errorText(e); }
    });
    replace(body, h("p", {}, "No activation plan yet. A plan sets milestones for the next 30, 60 and 90 days, tailored to the gaps above."), start);
  }
  return { section, ready: load() };
}

// ---- lifecycle and timeline (drill-down) -----------------------------------------------------------------------

export function lifecycleBody(lc) {
  return [
    h("ol", { class: "stages" }, lc.history.map((st) => h("li", { class: [st.stage === lc.stage ? "current" : "", st.entered_on ? "reached" : ""] },
      h("span", { class: "stage-name" }, fmt.humanize(st.stage)), h("span", { class: "muted" }, st.entered_on ? fmt.date(st.entered_on) : "not reached")))),
    h("p", {}, `${fmt.humanize(lc.stage)} for ${fmt.days(lc.days_in_stage)}`, lc.stalled ? h("span", { class: "pill status-stalled" }, `Stalled: ${lc.stalled_reason}`) : null),
  ];
}

const TIMELINE_CATEGORIES = [
  { key: "engagement", label: "Engagement" }, { key: "enablement", label: "Enablement" },
  { key: "pipeline", label: "Pipeline" }, { key: "ae", label: "AE contact" }, { key: "other", label: "Other" },
];

export function timelineBody(t) {
  return [
    charts.columns(t.months, TIMELINE_CATEGORIES, { caption: "Activity per month (portal logins included)" }),
    t.items.length ? h("ol", { class: "timeline", tabindex: "0", "aria-label": "Evidence, newest first" }, t.items.map((i) => h("li", { class: `tl-${i.category}` },
      h("time", { datetime: i.on }, fmt.date(i.on)),
      h("span", { class: "tl-label" }, i.label, i.detail ? h("span", { class: "muted" }, ` — ${i.detail}`) : null))))
      : h("p", {}, "No recorded evidence yet."),
    t.total > t.items.length ? h("p", { class: "muted" }, `Showing the latest ${t.items.length} of ${t.total} items.`) : null,
  ];
}

/** Every partner card into `grid`; resolves when all are drawn. */
export function partnerCards(grid, { partnerId, role, drill = false }) {
  const staff = role !== "partner";
  const id = encodeURIComponent(partnerId);
  const scoreP = api.get(`/v1/partners/${id}/score`);
  const cards = [
    ["Readiness", "score", scoreP, (s) => scoreBody(s, { staff })],
    ["Dimensions", "dimensions", scoreP, dimensionsBody],
    ["Trend", "trend", scoreP, trendBody],
    ["Top go-to-market gap", "gap", api.get(`/v1/partners/${id}/diagnosis`), gapBody],
    ["Nudges due", "nudges", api.get(`/v1/nudges${api.qs({ partner_id: staff ? partnerId : null })}`), (n) => nudgesBody(n)],
    ["Pipeline: sourced vs influenced", "pipeline", api.get(`/v1/pipeline${api.qs({ partner_id: staff ? partnerId : null })}`), pipelineBody],
  ];
  if (drill) {
    cards.push(["Lifecycle", "lifecycle", api.get(`/v1/partners/${id}/lifecycle`), lifecycleBody]);
    cards.push(["Evidence timeline", "timeline wide", api.get(`/v1/partners/${id}/timeline?limit=40`), timelineBody]);
  }
  const waits = [];
  for (const [title, cls, promise, build] of cards) {
    const { section, body } = card(title, { cls });
    grid.append(section);
    waits.push(fill(body, build)(promise));
    if (cls === "gap") {
      const plan = planCard(partnerId, role);
      grid.append(plan.section);
      waits.push(plan.ready);
    }
  }
  return { score: scoreP, ready: Promise.all(waits) };
}
