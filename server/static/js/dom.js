// Building the page safely: every string becomes a text node. The one exception, `trustedHtml`, takes HTML that the
// server rendered and sanitised (server/web/markdown.py via nh3): chat answers and playbook pages.
"use strict";

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "on") for (const [ev, fn] of Object.entries(value)) node.addEventListener(ev, fn);
    else if (key === "class") node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

export function replace(node, ...children) { clear(node); return append(node, children); }

const SANITISED = Symbol("sanitised");

/** Mark a string as HTML the server sanitised; only such values can reach `trustedHtml`. */
export function sanitised(html) { return { [SANITISED]: true, html: String(html || "") }; }

export function trustedHtml(node, value) {
  if (!value || value[SANITISED] !== true) throw new TypeError("trustedHtml takes only server-sanitised HTML");
  node.innerHTML = value.html;
  return node;
}

let uid = 0;
export function newId(prefix = "id") { uid += 1; return `${prefix}-${uid}`; }

/** A card: a titled section with its own landmark name. */
export function card(title, { id, cls, level = 2, actions } = {}) {
  const headingId = newId("card");
  const body = h("div", { class: "card-body" }, h("p", { class: "loading" }, "Loading…"));
  // "score wide" → "card-score wide": card names never collide with the classes of what they hold.
  const classes = (cls || "").split(/\s+/).filter(Boolean).map((c) => (c === "wide" ? c : `card-${c}`));
  const section = h("section", { class: ["card", ...classes], id, "aria-labelledby": headingId },
    h("div", { class: "card-head" }, h(`h${level}`, { id: headingId }, title), actions || null), body);
  return { section, body };
}

export function errorText(err) {
  if (err && err.status === 404) return err.detail || "Not found.";
  return `Could not load this: ${(err && (err.detail || err.message)) || "unknown error"}`;
}
