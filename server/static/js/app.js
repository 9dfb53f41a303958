// PartnerPilot web app: sign in, then the reader's home by role, a partner drill-down, a book, a playbook page; the
// chat beside every view. Pages are addresses the server answers with this one shell (server/web/pages.py).
"use strict";

import * as api from "./api.js";
import { mountChat } from "./chat.js";
import { h, replace } from "./dom.js";
import { bookView } from "./views/book.js";
import { leaderView } from "./views/leader.js";
import { drillDown, partnerHome } from "./views/partner.js";
import { playbookIndex, playbookView } from "./views/playbook.js";
import { signInView } from "./views/signin.js";

const main = document.getElementById("main");
const chatPanel = document.getElementById("chat");
const nav = document.getElementById("nav");
const identity = document.getElementById("identity");
const ME = "pp.me";
const ROLE_NAMES = { partner: "Partner", pam: "PAM", leader: "Channel leader", admin: "Administrator" };

function markReady(name) {
  performance.mark(name);
  document.documentElement.dataset[name === "pp-ready" ? "ready" : "chatReady"] = "true";
}

function renderNav(me, path) {
  const home = { partner: "My dashboard", pam: "My book" }[me.role] || "Program";
  const links = [["/", home], ["/playbooks", "Playbooks"]];
  replace(nav, h("ul", {}, links.map(([href, text]) => h("li", {},
    h("a", { href, "aria-current": (href === "/" ? path === "/" : path.startsWith(href)) ? "page" : null }, text))),
    // On a phone the chat sits below the page: one tap to reach it.
    h("li", { class: "to-chat" }, h("a", { href: "#chat", on: { click: focusChat } }, "Chat"))));
}

function focusChat(e) {
  e.preventDefault();
  chatPanel.scrollIntoView({ block: "start" });
  const input = chatPanel.querySelector("textarea");
  if (input) input.focus({ preventScroll: true });
}

function renderIdentity(me) {
  const out = h("button", { type: "button", class: "secondary" }, "Sign out");
  out.addEventListener("click", async () => {
    try { await api.post("/logout"); } catch { /* signing out locally is what matters */ }
    api.session.clear();
    location.assign("/");
  });
  const role = ROLE_NAMES[me.role] || me.role;
  // A leader or admin key names no partner or PAM: the role is the name.
  const who = me.name ? [me.name, h("span", { class: "muted" }, ` · ${role}`)] : [role];
  replace(identity, h("span", { class: "who" }, who), out);
  identity.hidden = false;
}

function notFound() {
  replace(main, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "/" }, "Go to your home page")));
  return Promise.resolve();
}

function route(path, me) {
  const staff = me.role !== "partner";
  let m;
  if (path === "/") {
    if (me.role === "partner") return partnerHome(main, me);
    if (me.role === "pam") return bookView(main, { pamId: me.principal_id, role: me.role, title: "Your book" });
    return leaderView(main);
  }
  if ((m = path.match(/^\/partners\/([^/]+)$/))) {
    const id = decodeURIComponent(m[1]);
    return !staff && id === me.principal_id ? partnerHome(main, me) : drillDown(main, me, id);
  }
  if ((m = path.match(/^\/books\/([^/]+)$/)) && staff) {
    const pam = decodeURIComponent(m[1]);
    if (me.role === "pam") return bookView(main, { pamId: me.principal_id, role: me.role, title: "Your book" });
    return bookView(main, { pamId: pam, role: me.role, title: `Book of ${pam}` });
  }
  if (path === "/playbooks") return playbookIndex(main);
  if ((m = path.match(/^\/playbooks\/([a-z0-9-]+)$/))) return playbookView(main, m[1]);
  return notFound();
}

async function boot() {
  const path = location.pathname;
  window.addEventListener("pp:signed-out", () => { api.session.clear(); location.assign("/"); }, { once: true });
  // Who the reader is, from this tab's last /me: the views start at once while /me confirms it in parallel (a
  // revoked or expired token signs out through the 401 handler).
  let me = null;
  if (api.session.token) {
    const check = api.get("/me").then((fresh) => { sessionStorage.setItem(ME, JSON.stringify(fresh)); return fresh; });
    const cached = JSON.parse(sessionStorage.getItem(ME) || "null");
    if (cached) { me = cached; check.catch(() => {}); }
    else { try { me = await check; } catch { api.session.clear(); } }
  }
  if (!me) {
    chatPanel.hidden = true;
    await signInView(main, async () => { location.reload(); });
    markReady("pp-ready");
    return;
  }
  renderNav(me, path);
  renderIdentity(me);
  const chat = mountChat(chatPanel, me);
  await route(path, me);
  markReady("pp-ready");
  await chat.ready;
  markReady("pp-chat-ready");
}

boot();
