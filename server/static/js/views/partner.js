// A partner's home (their own cards) and a PAM's or leader's drill-down into one partner (the same cards plus the
// lifecycle and the evidence timeline).
"use strict";

import * as api from "../api.js";
import { partnerCards } from "../cards.js";
import { errorText, h, replace } from "../dom.js";
import * as fmt from "../format.js";

export async function partnerHome(main, me) {
  const grid = h("div", { class: "grid partner" });
  replace(main, h("h1", {}, `Welcome, ${me.name || me.principal_id}`),
    h("p", { class: "lede" }, "Your readiness, your biggest gap and your plan at a glance. Ask the assistant anything about them."), grid);
  return partnerCards(grid, { partnerId: me.principal_id, role: "partner" }).ready;
}

export async function drillDown(main, me, partnerId) {
  const head = h("div", { class: "drill-head" }, h("h1", {}, partnerId));
  const grid = h("div", { class: "grid partner drill" });
  const back = me.role === "pam" ? h("a", { href: "/" }, "← Back to your book") : h("a", { href: "/" }, "← Back to the program");
  replace(main, h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, back), head, grid);
  const info = api.get(`/v1/partners/${encodeURIComponent(partnerId)}`).then((p) => {
    replace(head, h("h1", {}, p.name),
      h("p", { class: "lede" }, [fmt.humanize(p.type), p.region, p.country, p.program_tier ? `${p.program_tier} tier` : null,
        p.pam_name ? `PAM: ${p.pam_name}` : null, p.joined_on ? `joined ${fmt.date(p.joined_on)}` : null].filter(Boolean).join(" · ")));
    document.title = `${p.name} · PartnerPilot`;
  }).catch((err) => { replace(head, h("h1", {}, "Partner not found"), h("p", { class: "error" }, errorText(err))); throw err; });
  try { await info; } catch { return; }
  return partnerCards(grid, { partnerId, role: me.role, drill: true }).ready;
}
