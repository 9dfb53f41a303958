// A playbook page, rendered from the knowledge base by the API (sanitised there), and the playbook index.
"use strict";

import * as api from "../api.js";
import { errorText, h, replace, sanitised, trustedHtml } from "../dom.js";
import * as fmt from "../format.js";

export async function playbookView(main, id) {
  replace(main, h("p", { class: "loading" }, "Loading…"));
  try {
    const doc = await api.get(`/v1/playbooks/${encodeURIComponent(id)}`);
    document.title = `${doc.title} · PartnerPilot`;
    const body = h("div", { class: "prose" });
    trustedHtml(body, sanitised(doc.html));
    replace(main,
      h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/playbooks" }, "← All playbooks")),
      h("article", { class: "playbook card" },
        h("h1", {}, doc.title),
        h("p", { class: "lede" }, [`For: ${doc.gaps.map(fmt.gap).join(", ")}`, doc.phase === "any" ? "any phase" : `day ${doc.phase}`,
          `${fmt.count(doc.word_count)} words`, `updated ${fmt.date(doc.updated_on)}`].join(" · ")),
        body));
  } catch (err) {
    replace(main, h("h1", {}, "Playbook not found"), h("p", { class: "error" }, errorText(err)), h("p", {}, h("a", { href: "/playbooks" }, "See all playbooks")));
  }
}

export async function playbookIndex(main) {
  replace(main, h("h1", {}, "Playbooks"), h("p", { class: "loading" }, "Loading…"));
  try {
    const list = await api.get("/v1/playbooks");
    const byGap = new Map();
    for (const p of list) for (const g of p.gaps) { if (!byGap.has(g)) byGap.set(g, []); byGap.get(g).push(p); }
    replace(main, h("h1", {}, "Playbooks"),
      h("div", { class: "grid" }, [...byGap.entries()].sort().map(([gap, items]) => h("section", { class: "card", "aria-label": fmt.gap(gap) },
        h("div", { class: "card-head" }, h("h2", {}, fmt.gap(gap))),
        h("ul", { class: "playbooks" }, items.map((p) => h("li", {}, h("a", { href: `/playbooks/${encodeURIComponent(p.id)}` }, p.title))))))));
  } catch (err) { replace(main, h("h1", {}, "Playbooks"), h("p", { class: "error" }, errorText(err))); }
}
